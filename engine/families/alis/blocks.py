"""ALIS building blocks: anchor-styled convolutions and the Fourier coordinate channels.

Spatially-aligned modulation (SA-AdaIN). Each convolution has its own affine map ``A`` from an
anchor's ``w`` to one style per input channel; styles are computed per anchor and blended onto
the pixels (``engine.layers.anchor_grid``), which equals blending the ``w``s first because ``A`` is
affine, at a fraction of the cost.

Normalisation: we keep the released code's behaviour, a *style-independent* demodulation that
divides each output channel by the norm of its (equalised) weights, and NOT the paper's per-patch
``h / sigma(h)``. A statistic over a patch would make a pixel depend on every pixel of its patch
at every layer, so a block with margins would need its neighbours' statistics, and those theirs:
no finite window would do, and any-rect consistency would be lost. StyleGAN2's style-dependent
demodulation would be local, but with per-pixel styles it costs one more C_in x C_out product per
pixel and layer, and it is not what the released ALIS trains.

Without style-dependent demodulation nothing bounds the activations: with styles ``1 + noise``
each layer multiplies their scale by ``rms(style)`` (the released fp32 model reaches std 7 at
init; its fp16 path divides each anchor's styles by their max-abs, which changes the outputs).
We instead divide each *anchor's* style vector by its RMS over channels, always, in training and
inference: per anchor (cheap, a pure function of that anchor, so consistency is untouched), and a
blend of unit-RMS anchors stays near unit RMS (0.87 amid four on an untrained ``small``: the
styles' shared offset from the affine bias of 1 dominates), so activations keep their scale
through depth. With the variance blend each *pixel's* styles are normalised instead, after the
blend (per pixel, so just as consistent).

Blending. The paper blends the anchors' styles bilinearly, which averages them between anchors:
their *spread* there is a quarter of that on an anchor (amid four), a difference tied to the
lattice's phase. ``blend="variance"`` (:func:`~engine.layers.anchor_grid.interpolate_deviations`)
blends the deviations from the mean latent's style and rescales them, so mean and spread of the
styles are the same at every phase; see ``engine.families.alis.model`` for what that fixed.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from engine.layers import EqualLinear, ModulatedConv2d, fused_leaky_relu, periodic_features, pixel_norm
from engine.layers.anchor_grid import AnchorWindow, interpolate_anchors, interpolate_deviations
from engine.layers.transposed import ModulatedConvTranspose2d

#: How anchors' styles are blended onto pixels (``ALISConfig.blend``, ``AnchorStyledConv``).
BLENDS = ("linear", "variance")
#: How a stage k > 0 reaches its finer grid (``ALISConfig.upsample``).
UPSAMPLES = ("bilinear", "transposed")
#: Gain of the 2x2 box filter after a transposed up-convolution (``box2``: the mean of four
#: pixels, times this). The filtered up-convolution sums four of its 3x3 taps per output pixel
#: where a 3x3 conv sums nine, so its activations' spread is about two thirds, and averaging four
#: correlated neighbours shrinks it further; a gain of 2 brings it back near a conv's, as
#: StyleGAN2's up-sampling filter gain does.
UP_BLUR_GAIN = 2.0


class AnchorStyledConv(nn.Module):
    """Valid ``kernel x kernel`` convolution of ``x * style(pixel)``, weight-demodulated.

    Shapes: ``x`` (N, C_in, H, W), ``ws`` (N, J, I, w_dim) anchor latents -> (N, C_out, H - k + 1,
    W - k + 1). ``windows`` locate each sample's input window among its anchors.

    ``up=True``: a stride-2 transposed convolution instead, the released up-sampling layer, styled on
    its (coarse) input grid: (N, C_in, H, W) -> (N, C_out, 2H - 1, 2W - 1) (``TransposedUp``). Its
    FLOPs are those of a conv on the coarse grid, a quarter of convolving the up-sampled map.

    ``blend``: ``"linear"`` is the paper's bilinear blend of the anchors' styles; ``"variance"``
    blends their deviations from the style of ``w_centre`` (the mean latent) and rescales them,
    so the styles' spread does not depend on where a pixel sits between anchors
    (:func:`~engine.layers.anchor_grid.interpolate_deviations`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: int,
        w_dim: int,
        spacing: int,
        rows: bool,  # False: panorama mode, one anchor row
        activate: bool,  # bias + lrelu (convs) or bias only (ToRGB)
        demodulate: bool = True,  # style-independent weight demodulation (off for ToRGB, as released)
        blend: str = "linear",
        up: bool = False,
    ) -> None:
        super().__init__()
        if blend not in BLENDS:
            raise ValueError(f"unknown anchor blend {blend!r} (known: {', '.join(BLENDS)})")
        self.affine = EqualLinear(w_dim, in_channels, bias_init=1.0)
        if up:
            self.conv: nn.Module = ModulatedConvTranspose2d(in_channels, out_channels, demodulate=False)
        else:
            self.conv = ModulatedConv2d(in_channels, out_channels, kernel, demodulate=False)
        self.up = up
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.spacing = spacing
        self.rows = rows
        self.activate = activate
        self.demodulate = demodulate
        self.blend = blend

    def style_map(
        self, ws: torch.Tensor, windows: Sequence[AnchorWindow], w_centre: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Per-pixel styles (N, C_in, H, W); ``w_centre`` (w_dim,) is required by the variance blend."""
        n, j, i, w_dim = ws.shape
        rows = ws.reshape(n * j * i, w_dim)
        if self.blend == "linear":
            styles = pixel_norm(self.affine(rows))  # (N*J*I, C_in), unit RMS per anchor
            grid = styles.view(n, j, i, -1).permute(0, 3, 1, 2)  # (N, C_in, J, I)
            return interpolate_anchors(grid, windows, self.spacing, rows=self.rows)
        if w_centre is None:
            raise ValueError("the variance-preserving anchor blend needs the centre latent w_centre")
        # The centre as one more row rather than a call of its own (the rows are batch-invariant;
        # a second affine call's overhead made renders 40 % slower). The affine map is affine, so
        # blending the raw styles' deviations from the centre's style is blending the ``w``s'
        # deviations from the mean latent: zero-mean, so the rescale keeps the styles' mean and
        # covariance the same at every phase. The unit-RMS normalisation then has to come after
        # the blend, per pixel (before it, the normalised styles' mean is not the centre's).
        raw = self.affine(torch.cat([rows, w_centre.reshape(1, w_dim).to(rows.dtype)]))
        grid = raw[: n * j * i].view(n, j, i, -1).permute(0, 3, 1, 2)
        return pixel_norm(interpolate_deviations(grid, raw[-1], windows, self.spacing, rows=self.rows))

    def forward(
        self,
        x: torch.Tensor,
        ws: torch.Tensor,
        windows: Sequence[AnchorWindow],
        w_centre: torch.Tensor | None = None,
    ) -> torch.Tensor:
        out = self.conv(x, self.style_map(ws, windows, w_centre))
        if self.demodulate:
            weight = self.conv.weight * self.conv.scale
            summed = (0, 2, 3) if self.up else (1, 2, 3)  # transposed weights are (C_in, C_out, k, k)
            demod = torch.rsqrt(weight.pow(2).sum(dim=summed) + 1e-8)  # (C_out,): style-independent
            out = out * demod.view(1, -1, 1, 1)
        if self.activate:
            return fused_leaky_relu(out, self.bias)
        return out + self.bias.view(1, -1, 1, 1)

    def extra_repr(self) -> str:
        return (
            f"spacing={self.spacing}, rows={self.rows}, activate={self.activate}, "
            f"demodulate={self.demodulate}, blend={self.blend}"
        )


def _is_prime(n: int) -> bool:
    return n >= 2 and all(n % d for d in range(2, int(n**0.5) + 1))


def _largest_prime_at_most(n: int) -> int:
    while not _is_prime(n):
        n -= 1
    return n


def fourier_periods(spacing: int, scale: int, cap: int | None = None) -> tuple[int, ...]:
    """Coordinate periods (world pixels) for a stage ``scale`` world pixels per stage pixel.

    Why these periods. The paper's repetition failure (its Figs. 9/10): the released embeddings
    have periods of at most two frames whatever the anchor spacing, so with widely spaced anchors
    the coordinates cycle several times while the style barely moves, and content repeats. Here
    the longest period is close to ``2 * spacing``, so between two anchors the longest wave never
    repeats, and the shorter ones sit about an octave apart (as in the paper), down to about 4
    stage pixels (coarser grids cannot represent finer waves).

    Each period is a *prime* number of stage pixels (the largest at most its octave). With exact
    octaves every shorter period divides the longer ones, so a shift by one period brings every
    finer wave back in phase at once: on random-init models the echo one period later scored
    0.51 (``tiny``) and 0.80 (``small``) on the repetition diagnostic (1 = copies); with primes,
    which are pairwise coprime, a shift by one period re-aligns that wave alone, the stage's
    encoding repeats only after the product of its periods, and the scores fell to 0.25 and 0.40
    (``eval --diagnostics only --quick``). Exactness is unaffected: positions are reduced modulo
    each period in integers. Training frames cover the anchor span at continuous offsets, so
    every phase of every wave is seen in training.

    ``cap`` (world pixels; ``None`` = no cap, the scheme above) starts the octaves there instead
    of at ``2 * spacing``, same rules below it. Why cap at all: a period longer than the training
    frame is invisible to the discriminator (no frame holds a whole period), so a trained model
    is free to tie large-scale content to the phase of its longest waves, and the world then
    repeats with that period (a world map: "latitude" bands every ~2 spacings). A period that fits
    in a frame polices itself: the discriminator sees it whole and penalises unnatural regularity.
    A stage whose cap is under 4 stage pixels gets no period at all.
    """
    periods: list[int] = []
    target = (2 * spacing if cap is None else min(2 * spacing, cap)) // scale  # stage pixels
    while target >= 4:
        prime = _largest_prime_at_most(target)
        if periods and prime * scale == periods[-1]:
            break
        periods.append(prime * scale)
        target //= 2
    return tuple(periods)


def coordinate_channels(
    windows: Sequence[AnchorWindow], periods: Sequence[int], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """``[cos, sin]`` waves along x then y for each window: (N, 4 * len(periods), H, W).

    Positions are stage-pixel indices reduced modulo ``period // scale`` in integers
    (``periodic_features``), so a window at 10^12 gets exactly the phases of one near the origin.
    """
    w0 = windows[0]
    if not periods:  # a stage the period cap left without waves
        return torch.zeros(len(windows), 0, w0.height, w0.width, device=device, dtype=dtype)
    stage_periods = [p // w0.scale for p in periods]
    # Phases are computed on the CPU as 1-D rows (exact integer reduction), moved, then broadcast.
    fx = torch.stack([periodic_features(w.x, w.width, stage_periods) for w in windows])  # (N, 2P, W)
    fy = torch.stack([periodic_features(w.y, w.height, stage_periods) for w in windows])  # (N, 2P, H)
    fx = fx.to(device=device, dtype=dtype)[:, :, None, :].expand(-1, -1, w0.height, -1)
    fy = fy.to(device=device, dtype=dtype)[:, :, :, None].expand(-1, -1, -1, w0.width)
    return torch.cat([fx, fy], dim=1)
