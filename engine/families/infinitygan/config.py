"""InfinityGAN's configuration: the hyper-parameters of a generator and the named configs.

Apart from the generator (:mod:`engine.families.infinitygan.model`, which re-exports these), so
the config can be read, checked and compared without building anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import InvalidInput
from engine.families.infinitygan.structure import VERTICAL_SHAPES


@dataclass(frozen=True)
class InfinityGANConfig:
    z_global: int = 512  # size of z_g (global style latent)
    z_local: int = 256  # channels of the local latent field z_l
    structure_channels: int = 256  # G_S width
    structure_layers: int = 4  # G_S valid modulated convs
    structure_kernel: int = 7  # their size (feature-unfolding neighbourhood)
    texture_channels: tuple[int, ...] = (512, 512, 512, 512)  # G_T width per x2 block, coarse to fine
    w_dim: int = 512  # W space size
    mapping_layers: int = 8  # mapping MLP depth
    block: int = 96  # world pixels per rendered block (multiple of 2^len(texture_channels))
    period: int = 139  # horizontal coordinate period in z_l cells (paper: 139 cells = 2224 px)
    v_per_cell: float = 0.3  # vertical coordinate per z_l row: tanh(0.3 * row), horizon at row 0
    vertical: str = "tanh"  # its shape: "tanh" (the paper's, landscapes) or "linear" (maps' latitude)
    train_rows: int = 20  # z_l rows a training image's height spans, centred on the horizon
    latitude_bands: int = 0  # knots of G_S's learnt per-latitude offset (0: none, the paper's)
    latitude_wander: float = 0.0  # how far (coordinate units) G_S may shift the latitude it reads (0: none)
    fusion_width: float = 128.0  # default style-centre blend width in world pixels
    # Style lattice cell in world pixels (0: one global style per world, the paper's): see engine.styles.
    # Inference only (the weights do not depend on it), so a trained model can switch it on.
    style_cell: int = 0

    def __post_init__(self) -> None:
        scale = 2 ** len(self.texture_channels)
        if self.block <= 0 or self.block % scale:
            raise InvalidInput(f"block {self.block} must be a positive multiple of 2^{len(self.texture_channels)}")
        if self.structure_kernel % 2 == 0:
            raise InvalidInput("structure_kernel must be odd")
        if self.period <= 0 or self.v_per_cell <= 0 or self.fusion_width <= 0:
            raise InvalidInput("period, v_per_cell and fusion_width must be positive")
        if self.vertical not in VERTICAL_SHAPES:
            raise InvalidInput(f"vertical must be one of {', '.join(VERTICAL_SHAPES)}, not {self.vertical!r}")
        if self.latitude_bands < 0 or self.latitude_bands == 1:
            raise InvalidInput(f"latitude_bands must be 0 (none) or at least 2, got {self.latitude_bands}")
        if self.latitude_wander < 0 or (self.latitude_wander and not self.latitude_bands):
            raise InvalidInput(
                "latitude_wander must be 0, or positive with latitude_bands (it shifts the table's rows)"
            )
        if self.style_cell < 0:
            raise InvalidInput(f"style_cell must be >= 0 (0: no style lattice), got {self.style_cell}")


CONFIGS = {
    "tiny": InfinityGANConfig(
        z_global=16,
        z_local=8,
        structure_channels=16,
        structure_layers=2,
        structure_kernel=3,
        texture_channels=(16, 12),
        w_dim=16,
        mapping_layers=2,
        block=32,
        period=31,
        train_rows=24,
        fusion_width=48.0,
    ),
    "small": InfinityGANConfig(
        z_global=128,
        z_local=32,
        structure_channels=96,
        structure_layers=3,
        structure_kernel=5,
        texture_channels=(128, 96, 48, 32),
        w_dim=128,
        mapping_layers=4,
        block=128,
        period=139,
        style_cell=512,  # four blocks: a frame sees about one style, a long strip hundreds
    ),
    "paper": InfinityGANConfig(),
}
TEST_CONFIGS = ("tiny",)
