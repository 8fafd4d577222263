"""ALIS's configuration: its fields, named configs and field names, and why they differ from the paper.

ALIS (Skorokhodov et al., ICCV'21) as a consistent generator: anchors on an endless 2-D lattice.

Latent codes (anchors) sit on a lattice ``spacing`` world pixels apart (default two frame widths);
each pixel's styles are the bilinear blend of the four anchors around it (panorama mode: one
anchor row, the paper's 1-D setting, blended along x only). Anchor codes are cells of the field
``alis.anchors`` (one cell per anchor), so the infinite grid costs nothing and resampling a region
is a field override of its anchor cells (``engine.families.alis.edit``).

Differences from the released code, on purpose:

- **No patches with zero padding.** The released generator cuts frames into patches and zero-pads
  each at every layer ("periodically shift-equivariant": only whole-patch shifts are seamless).
  Here every convolution is valid (no padding) and each world-aligned block is computed from a
  window with margins, so the image is one continuous function of world position and any
  rectangle is bit-exact whatever blocks it is cut into.
- **Absolute, exact coordinates.** Fourier channels use global world positions reduced in
  integers modulo each period (``blocks.coordinate_channels``) instead of per-triple
  re-centred floats. By default periods reach ``2 * spacing`` (against the paper's repetition
  failure); the capped mode below keeps them within one frame.
- **Capped periods and an aperiodic input** (``max_period_frames``, ``input_channels``; the
  ``tiny`` and ``small`` configs). A model trained with periods up to ``2 * spacing`` on a world
  map drew "latitude" bands (ice caps, deserts) repeating every ~500 px in y, and columns in x:
  periods longer than the 128 px training frame are invisible to the discriminator, so nothing
  stopped the generator from encoding large-scale layout as the phase of its longest waves, and
  stage 0 read nothing else. In the capped mode no period exceeds ``max_period_frames`` frames
  (with 1, every period fits in a frame and the discriminator polices it), and stage 0 also reads
  ``input_channels`` of the Gaussian field ``alis.input``, one cell per stage-0 pixel: local,
  aperiodic variety, while the layout at larger scales comes from the anchors (the ALIS idea).
  Why a field and not, say, longer non-repeating coordinates: anything positional that the
  discriminator cannot see whole can be abused the same way, whereas i.i.d. cells carry no
  position at all. It is a field like the noise, so renders stay consistent, and inversion fits
  it like any latent; training draws it fresh per frame through the same ``synthesize``. Defaults are the
  first scheme, so checkpoints whose header lacks these keys load and render as before. The
  ``paper`` config stays coordinate-only, the released network's shape, which the benchmarks
  compare with the paper's timings.
- **No coordinates at all in ``small``** (``coordinate_stages=0``: how many stages, coarsest
  first, read coordinates). The capped model (5.7 kimg on the halved map) still drew a plaid:
  axis-aligned stripes at its in-frame periods (repetition score 0.56 at 127 px, a grid visible
  across the whole 4096x2048 gallery). Fourier channels of x and y are separable, and a young
  generator passes them through nearly linearly, so each wave shows up as stripes along one axis;
  the discriminator sees that only as texture, not as repetition. Once the input field carries
  local variety and the anchors the layout, the coordinates add nothing the world needs, so the
  shipped config reads none; the network is then a style-modulated, padding-free conv stack on a
  Gaussian field whose styles come from the anchor grid: ALIS's spatially-aligned AdaIN, without
  its positional input. ``tiny`` keeps capped coordinates so the tests cover both code paths.
- **An input field at every stage** (``stage_inputs``): where a stage reads no coordinates it
  concatenates ``input_channels`` of its own Gaussian field ``alis.input{k}`` (one cell per
  stage-``k`` pixel) instead, the aperiodic stand-in for the coordinates' fine detail. Without
  them the untrained network's output was nearly flat (std 0.05 against 0.24 with coordinates;
  the stage-0 field is one cell per 32 px and the per-stage noise starts at zero strength), and
  800 training steps stayed stuck on near-white frames that the discriminator rejected outright
  (real/fake logits +8/-7); with the fields the untrained output has std 0.45.
- **Anchors one frame apart in ``small``** (``anchor_frames=1``; the paper and the other configs
  use two). At two frames (256 px) the 128 px training frame held half an anchor period, and the
  1000-step model drew an envelope, brightness locked to the anchor lattice (``lattice_lock``
  0.086; 0.135 after 2375 steps; 0.030 at random init), while more training made its held-out
  SWD worse (quick 306 -> 370-395). The hope was that a frame spanning a whole period would let
  the discriminator police the blend. Measured: it does not remove the envelope (1537 steps one
  frame apart, with critic augmentation, from the 1000-step weights: 0.149), since a critic that
  sees one frame at a random phase cannot tell a phase-locked brightness from the real map's own
  variation. It is kept because that run kept improving (quick held-out SWD 341 -> 267 over 1537
  steps; full 277 -> 267), though the spacing and the augmentation changed together. The spacing
  does not shape any weight, so ``train --init`` re-spaces a trained model (``INFERENCE_FIELDS``).
- **A variance-preserving anchor blend in ``small`` and ``tiny``** (``blend="variance"``; the
  paper's linear blend stays the default, so older checkpoints render as before). The envelope's
  cause was the blend itself: averaging the anchors' styles shrinks their spread between anchors
  (to a quarter of the variance amid four), so pixels between anchors get tamer, more average
  styles than pixels on them, a difference locked to the lattice's phase, and the generator tied
  its brightness to it (bright spots on the anchors, dim gaps between: "stars"). Blending the
  ``w``s' deviations from the mean latent and dividing by the root of the summed squared weights
  (``anchor_grid.interpolate_deviations``) keeps the styles' mean and covariance the same at every
  phase, so nothing phase-locked is left for the generator to use (the unit-RMS normalisation
  moves after the blend, per pixel). Measured: the shipped linear-blend weights rendered with it
  scored ``lattice_lock`` 0.009 (from 0.149) but quick held-out SWD 402 (from 267), since they had
  adapted to the linear blend; 800 steps of training with it (runs/alis8) brought quick SWD to 294
  with the envelope still 0 (full: SWD 284, lattice_lock 0, against 267 and 0.149 before). Its one assumption is
  independent anchors, which is
  what worlds and training draw: equal neighbouring anchors would get their shared deviation
  scaled by phase. The blend shapes no weight either (``INFERENCE_FIELDS``).
- **Style-independent demodulation** as released (not the paper's per-patch normalisation), the
  same in training and inference, with each anchor's (variance blend: each pixel's) styles scaled
  to unit RMS so activations stay bounded (the released fp16 path does a max-abs version of this; see ``blocks``).
  ToRGB is not demodulated, as released.
- Up-sampling is bilinear x2 with a one-pixel crop (consistent by construction), and the image
  comes from one ToRGB at the end (no skip branch). The ``paper`` config up-samples as released
  instead (``upsample="transposed"``, ``blocks``): the modulated 3x3 conv runs transposed
  at stride 2 on the coarse grid, then a 2x2 box filter (``box2``). Convolving after a bilinear up-sample costs 4x
  the FLOPs of that conv, and at the released widths that made a 256^2 frame cost 61 GFLOP even
  without margins, against the released generator's 32.
- Noise is read from fields (``alis.noise{k}``), so it is consistent and stays on at inference.

The generator's stages are described in :mod:`engine.families.alis.model`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.errors import InvalidInput
from engine.models.base import config_from_document
from engine.styles import StyleLayout

ANCHOR_FIELD = "alis.anchors"
#: The aperiodic stage-0 input (capped mode): ``input_channels`` channels, one cell per stage-0 pixel.
INPUT_FIELD = "alis.input"
#: Layout ``extra`` key for truncation towards the mean style (a world option, see ``edit``).
PSI_KEY = "alis.psi"


@dataclass(frozen=True)
class ALISConfig:
    frame: int = 256  # training frame side in pixels (what the discriminator sees)
    channels: tuple[int, ...] = (512, 512, 512, 512, 256, 128, 64)  # stage widths, coarse -> fine
    z_dim: int = 512  # anchor latent size (channels of the anchor field)
    w_dim: int = 512
    mapping_layers: int = 2  # the released "auto" config
    anchor_frames: int = 2  # anchor spacing d in frame widths
    panorama: bool = False  # True: one anchor row (1-D, the paper's setting)
    block: int = 128  # side of a rendered world-aligned block
    noise: bool = True
    psi: float = 1.0  # default truncation (1 = none); a world may override it in its layout
    # Longest coordinate period in frame widths; None: about 2 * spacing (see the module doc).
    max_period_frames: float | None = None
    input_channels: int = 0  # channels of the aperiodic stage-0 input field (0: coordinates only)
    # Stages (coarsest first) that read Fourier coordinates; None: all of them, 0: none (see the module doc).
    coordinate_stages: int | None = None
    # Stages k > 0 without coordinates read input_channels of their own Gaussian field alis.input{k}.
    stage_inputs: bool = False
    # How anchors' styles meet between anchors: "linear" (the paper) or "variance" (see the module doc).
    blend: str = "linear"
    # How stage k > 0 enters its grid: "bilinear" (x2 then a 3x3 conv) or "transposed" (the released
    # up-sampling: a stride-2 transposed 3x3 conv on the coarse grid, then a blur; see blocks).
    upsample: str = "bilinear"

    @property
    def spacing(self) -> int:
        return self.anchor_frames * self.frame

    @property
    def coarse_scale(self) -> int:
        return 2 ** (len(self.channels) - 1)

    @property
    def period_cap(self) -> int | None:
        """Longest allowed coordinate period in world pixels (``None``: uncapped)."""
        return None if self.max_period_frames is None else int(self.max_period_frames * self.frame)


CONFIGS = {
    # tiny and small: the capped mode (see the module doc), every period within one frame, plus the
    # input; small (the shipped one) also drops the coordinates, tiny keeps them so tests exercise both.
    "tiny": ALISConfig(
        frame=32,
        channels=(16, 16, 12, 8),
        z_dim=16,
        w_dim=16,
        block=32,
        max_period_frames=1.0,
        input_channels=8,
        blend="variance",
    ),
    # CPU-interactive; widths picked for 1280x720 within seconds on two cores (engine/bench/alis.py).
    "small": ALISConfig(
        frame=128,
        channels=(128, 128, 96, 64, 32, 16),
        z_dim=128,
        w_dim=128,
        block=128,
        max_period_frames=1.0,
        input_channels=32,
        coordinate_stages=0,
        stage_inputs=True,
        anchor_frames=1,
        blend="variance",
    ),
    # The released 256^2 widths (g_fmaps 0.5) and up-sampling, for GPU training and benchmarks.
    "paper": ALISConfig(frame=256, block=256, upsample="transposed"),
}
TEST_CONFIGS = ("tiny",)
#: Config fields that change how a trained model renders, not its weights (``train --init`` may change
#: them): the anchor spacing only moves where the lattice's styles are blended, the blend only how.
INFERENCE_FIELDS = ("anchor_frames", "blend")


def config_from_dict(doc: dict[str, Any]) -> ALISConfig:
    return config_from_document(ALISConfig, doc)


def real_crop_size(model_config: ALISConfig | dict[str, Any]) -> int:
    if isinstance(model_config, dict):
        model_config = config_from_dict(model_config)
    return model_config.frame


def input_field(k: int) -> str:
    """Name of stage ``k``'s aperiodic input field (stage 0 keeps its first name)."""
    return INPUT_FIELD if k == 0 else f"{INPUT_FIELD}{k}"


def noise_field(k: int) -> str:
    """Name of stage ``k``'s noise field."""
    return f"alis.noise{k}"


def world_psi(styles: StyleLayout, default: float) -> float:
    """Truncation of a world: its layout's ``alis.psi`` if set, else the model's default."""
    value = dict(styles.extra).get(PSI_KEY, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 2.0:
        raise InvalidInput(f"{PSI_KEY} must be a number in [0, 2], got {value!r}")
    return float(value)
