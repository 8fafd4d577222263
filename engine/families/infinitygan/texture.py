"""InfinityGAN's texture synthesizer G_T: a StyleGAN2 generator with every padding removed.

It starts from the structure features instead of a constant and, per resolution block, runs:

    modulated 3x3 transposed conv, stride 2, cropped (n -> 2n-1) -> [1,2,1] blur (-> 2n-3)
    -> noise -> bias + leaky ReLU -> modulated 3x3 valid conv (-2) -> noise -> bias + leaky ReLU
    -> ToRGB (1x1, modulated, not demodulated) + up-sampled skip

Sizes stay odd (11 -> 19 -> 17 -> 31 -> 29 -> ... -> 101 for the paper's patch). Every value
depends on its receptive field only, so a block rendered from a window of the latent fields is
the matching part of any larger canvas. Noise is an input (per-layer noise *fields* when
rendering, fresh draws when training): the model never samples anything itself.

Style indices (W+): up-conv of block r uses ``w[2r]``, its conv ``w[2r+1]``, its ToRGB
``w[2r+2]``; ``2R + 1`` styles in all.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from engine.families.infinitygan.styles import StyleSource, Window
from engine.layers import EqualLinear, ModulatedConv2d, NoiseInjection, fused_leaky_relu, pixel_norm
from engine.layers.spans import Span, ValidConv, crop_to
from engine.layers.transposed import ModulatedConvTranspose2d, TransposedUp, blur121, linear_up


class MappingNetwork(nn.Module):
    """z -> w: pixel norm then an MLP of equalised linear layers (lr multiplier 0.01).

    ``EqualLinear`` reduces row by row, so w of one sample never depends on its batch.
    """

    def __init__(self, z_dim: int, w_dim: int, layers: int, lr_mul: float = 0.01) -> None:
        super().__init__()
        dims = [z_dim] + [w_dim] * layers
        self.layers = nn.Sequential(
            *(EqualLinear(i, o, lr_mul=lr_mul, activation=True) for i, o in itertools.pairwise(dims))
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.layers(pixel_norm(z))  # (N, W)


def _gives(layer: TransposedUp | ValidConv, have: Window) -> Window:
    return layer.gives(have[0]), layer.gives(have[1])


class TextureSynthesizer(nn.Module):
    """G_T: structure features (scale ``2^R``) -> RGB (scale 1).

    Shapes: ``x`` (N, C_s, h, w) holding ``windows[0]``; result (N, 3, ...) holding ``windows[-1]``.
    """

    def __init__(
        self,
        in_channels: int,  # channels of the structure features
        channels: tuple[int, ...],  # width of each resolution block, coarse to fine
        w_dim: int,  # size of the style vectors
    ) -> None:
        super().__init__()
        self.up_affines, self.ups, self.up_noises = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.conv_affines, self.convs, self.conv_noises = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        self.rgb_affines, self.to_rgbs = nn.ModuleList(), nn.ModuleList()
        self.up_biases, self.conv_biases, self.rgb_biases = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        prev = in_channels
        for ch in channels:
            self.up_affines.append(EqualLinear(w_dim, prev, bias_init=1.0))
            self.ups.append(ModulatedConvTranspose2d(prev, ch))
            self.up_noises.append(NoiseInjection())
            self.up_biases.append(nn.Parameter(torch.zeros(ch)))
            self.conv_affines.append(EqualLinear(w_dim, ch, bias_init=1.0))
            self.convs.append(ModulatedConv2d(ch, ch, 3))
            self.conv_noises.append(NoiseInjection())
            self.conv_biases.append(nn.Parameter(torch.zeros(ch)))
            self.rgb_affines.append(EqualLinear(w_dim, ch, bias_init=1.0))
            self.to_rgbs.append(ModulatedConv2d(ch, 3, 1, demodulate=False))
            self.rgb_biases.append(nn.Parameter(torch.zeros(3)))
            prev = ch
        self.num_styles = 2 * len(channels) + 1

    @staticmethod
    def span_maps(blocks: int) -> list[TransposedUp | ValidConv]:
        """Window maps in forward order: per block up, blur, conv."""
        return [TransposedUp(), ValidConv(3), ValidConv(3)] * blocks

    def forward(
        self,
        x: torch.Tensor,
        windows: list[Window],  # 3 * blocks + 1 kept windows: input, then after up, blur, conv
        noises: list[torch.Tensor],  # 2 per block: (N, 1, h, w) holding the blur and conv windows
        scale: int,  # world pixels per input cell
        styles: StyleSource,
        stop_after: int | None = None,  # run only this many blocks (None: all): a coarse preview
    ) -> torch.Tensor:
        """RGB of the skip path after the last block run: scale 1 after every block, ``scale >>
        stop_after`` world px per pixel after ``stop_after`` (``windows`` and ``noises`` then need
        cover only those blocks: ``3 * stop_after + 1`` and ``2 * stop_after``). The skip path is
        StyleGAN2's running image, so an early stop is the same picture, coarser, for a fraction
        of the cost (what previews of zoomed-out views draw)."""
        skip: torch.Tensor | None = None
        for r in range(len(self.ups) if stop_after is None else stop_after):
            w_in, w_up, w_blur, w_conv = windows[3 * r : 3 * r + 4]
            s_out = scale >> (r + 1)
            # Up-sample: transposed conv (n -> 2n-1), blur (-> 2n-3), noise, activation.
            x = self.ups[r](x, styles.texture(self.up_affines[r], 2 * r, w_in, s_out * 2))
            x = crop_to(x, _gives(TransposedUp(), w_in), w_up)
            x = crop_to(blur121(x, gain=4.0), _gives(ValidConv(3), w_up), w_blur)
            x = fused_leaky_relu(self.up_noises[r](x, noises[2 * r]), self.up_biases[r])
            # Valid 3x3 conv (-2), noise, activation.
            x = self.convs[r](x, styles.texture(self.conv_affines[r], 2 * r + 1, w_blur, s_out))
            x = crop_to(x, _gives(ValidConv(3), w_blur), w_conv)
            x = fused_leaky_relu(self.conv_noises[r](x, noises[2 * r + 1]), self.conv_biases[r])
            # ToRGB plus the skip path, up-sampled linearly and cropped to this block's window.
            rgb = self.to_rgbs[r](x, styles.texture(self.rgb_affines[r], 2 * r + 2, w_conv, s_out))
            rgb = rgb + self.rgb_biases[r].view(1, 3, 1, 1)
            if skip is not None:
                prev_window = windows[3 * r]
                rgb = rgb + crop_to(linear_up(skip), _gives(TransposedUp(), prev_window), w_conv)
            skip = rgb
        assert skip is not None
        return skip


def output_size(ts_cells: int, blocks: int) -> int:
    """Side of the patch G_T makes from ``ts_cells`` structure cells with no cropping (11 -> 101)."""
    span = Span(0, ts_cells)
    for layer in TextureSynthesizer.span_maps(blocks):
        span = layer.gives(span)
    return span.size
