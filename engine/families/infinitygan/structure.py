"""InfinityGAN's structure synthesizer G_S and its coordinate channels.

G_S is an implicit function of the global latent ``z_g``, the local latent field ``z_l`` and
coordinates: a stack of valid (padding-free) modulated convolutions — the paper's "feature
unfolding", each output cell sees a ``k x k`` neighbourhood — modulated by ``z_g`` (no mapping
network), with the three coordinate channels cropped to each layer's window and concatenated to
its input again, so position never fades out of the features.

Coordinates (on the ``z_l`` lattice, one cell = ``2^R`` world pixels):

- vertical ``tanh(v_per_cell * row)`` of the ABSOLUTE row (the paper's ``"tanh"``): the horizon is
  world row 0 for every canvas (the official code re-centres it on each canvas, so a taller view
  moves the horizon); or ``"linear"``, ``clip(v_per_cell * row, -1, 1)``: a map's latitude, every
  row as far from the next as at the equator. tanh suits a landscape (sky and ground saturate
  away from the horizon) and fails a map, where it squeezes the polar bands: with the world
  recipe's slope the 9 rows of Antarctica span 0.01 of the coordinate, the 12 around the equator
  0.8, so the generator can hardly tell the ice from the southern ocean beside it. Rows are
  clamped in integers where the coordinate is saturated, so any row is exact;
- horizontal ``cos, sin`` of ``2 pi (col mod period) / period``, the modulus taken in integers
  (``engine.layers.coords``), so x = 10^12 gets the phase x = 10^12 mod period gets, to the bit.

Training draws a start row / column per sample and a sub-cell jitter (continuous coordinates, as
in the paper); rendering uses integer cells and no jitter.

Optionally (``latitude_bands`` > 0, not in the paper) G_S's output gets a learnt offset per band of
the vertical coordinate (:class:`LatitudeEmbedding`): the coordinate channel alone reaches the
features only through convolutions shared by every row, so making one band (the polar ice) differ
sharply from its neighbour (the southern ocean) means bending the whole network; a table entry per
band can move alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.families.infinitygan.styles import StyleSource, Window
from engine.layers import EqualLinear, ModulatedConv2d, fused_leaky_relu, periodic_features
from engine.layers.spans import ValidConv, crop_to

COORD_CHANNELS = 3
#: Shapes of the vertical coordinate (``InfinityGANConfig.vertical``); see the module docstring.
VERTICAL_SHAPES = ("tanh", "linear")


def vertical_coordinate(
    row0: int, height: int, v_per_cell: float, shape: str = "tanh", dy: float = 0.0
) -> torch.Tensor:
    """``(height,)`` float32 vertical coordinates of rows ``row0 ..`` (shifted by ``dy`` cells).

    Rows are clamped in integers beyond the saturation (tanh(20) and clip(1) are exact in float64),
    so the row 10^15 gets the bits the saturated row does.
    """
    if shape not in VERTICAL_SHAPES:
        raise ValueError(f"vertical coordinate shape must be one of {', '.join(VERTICAL_SHAPES)}, not {shape!r}")
    reach = 20.0 if shape == "tanh" else 1.0
    limit = math.ceil(reach / v_per_cell) + 1
    rows = torch.tensor([max(-limit, min(limit, row0 + j)) for j in range(height)], dtype=torch.float64)
    v = (rows + dy) * v_per_cell
    return (torch.tanh(v) if shape == "tanh" else v.clamp(-1.0, 1.0)).to(torch.float32)


def coordinate_grid(
    col0: int,
    row0: int,
    width: int,
    height: int,
    period: int,
    v_per_cell: float,
    jitter: tuple[float, float] = (0.0, 0.0),
    vertical: str = "tanh",
) -> torch.Tensor:
    """``(3, height, width)`` float32 ``[v, cos(phase), sin(phase)]`` of cells from ``(col0, row0)``,
    ``v`` of the ``vertical`` shape (:func:`vertical_coordinate`).

    ``jitter`` (dx, dy) in cells shifts the coordinates continuously (training only).
    """
    dx, dy = jitter
    v = vertical_coordinate(row0, height, v_per_cell, vertical, dy)
    if dx == 0.0:
        horizontal = periodic_features(col0, width, [period])  # (2, width)
    else:
        steps = (torch.arange(width, dtype=torch.int64) + col0 % period) % period
        phase = (steps.to(torch.float64) + dx) * (2.0 * math.pi / period)
        horizontal = torch.stack([torch.cos(phase), torch.sin(phase)]).to(torch.float32)
    return torch.cat(
        [v[None, :, None].expand(1, height, width), horizontal[:, None, :].expand(2, height, width)]
    ).contiguous()


class LatitudeEmbedding(nn.Module):
    """A learnt feature offset per band of the vertical coordinate, linear between band knots.

    ``bands`` knots evenly spaced over the coordinate's range [-1, 1]; a row's offset blends its two
    nearest knots, so it is a continuous function of the (jittered, in training) coordinate and,
    being per row, leaves rendering tile-independent. The table starts at zero: a model extended
    with it renders exactly as before (``train --init`` from a model without one), and each knot
    learns from the rows near it only.
    """

    #: Gain on the stored table (a learning-rate multiplier under Adam, as StyleGAN's equalised
    #: layers have): G_S's outputs are about 9 rms in the trained ``small`` model, and Adam moves a
    #: parameter by at most the learning rate (1e-3) a step, so an unscaled table had reached 0.04
    #: rms after 500 steps. Part of the architecture: trained tables assume it.
    LR_MUL = 100.0

    def __init__(self, bands: int, channels: int) -> None:
        super().__init__()
        if bands < 2:
            raise ValueError(f"a latitude embedding needs at least 2 bands, got {bands}")
        self.table = nn.Parameter(torch.zeros(bands, channels))  # stored / LR_MUL

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """``v`` (N, h, w) vertical coordinates (any real value) -> (N, C, h, w) offsets."""
        last = self.table.shape[0] - 1
        position = (v.clamp(-1.0, 1.0) + 1.0) * (last / 2)
        low = position.floor().clamp(max=last - 1)
        frac = (position - low).unsqueeze(-1)  # (N, h, w, 1)
        index = low.long()
        table = (self.table * self.LR_MUL).to(v.dtype)
        offset = table[index] * (1 - frac) + table[index + 1] * frac  # (N, h, w, C)
        return offset.permute(0, 3, 1, 2)


class LatitudeWander(nn.Module):
    """A smooth shift of the latitude the table reads, drawn from G_S's own features.

    Why: with the table alone, every row of a world gets one offset, and the shipped model drew its
    ice edge and its coasts as straight lines along a latitude (a 133 px crop cannot tell a
    straight coast from a wavy one, but a critic told the row sees the edge at the same height in
    every crop of that row). Reading the table at ``v + reach * tanh(<w, features>)`` lets the
    content decide how far north a place looks, as z_l varies. The shift is a function of G_S's
    features, themselves a function of the latent field, so rendering stays tile-independent;
    ``w`` starts at zero, so a model extended with it renders as before.
    """

    def __init__(self, channels: int, reach: float) -> None:
        super().__init__()
        if reach <= 0:
            raise ValueError(f"a latitude wander needs a positive reach, got {reach}")
        self.reach = reach
        self.weight = nn.Parameter(torch.zeros(channels))
        self.gain = channels**-0.5  # equalised: the projection's scale is independent of the width

    def forward(self, v: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """``v`` (N, h, w) and ``features`` (N, C, h, w) -> the shifted ``v``."""
        w = (self.weight * self.gain).to(features.dtype)
        return v + self.reach * torch.tanh(torch.einsum("nchw,c->nhw", features, w))


class StructureSynthesizer(nn.Module):
    """G_S: ``(z_l, coords, z_g) -> structure features`` on the ``z_l`` lattice.

    Shapes: ``z_l`` (N, Z_l, H, W), ``coords`` (N, 3, H, W) -> (N, C, H - L(k-1), W - L(k-1)).
    """

    def __init__(
        self,
        z_local: int,  # channels of the local latent field
        z_global: int,  # size of z_g (the modulating latent)
        channels: int,  # feature width of every layer
        layers: int,  # number of valid modulated convolutions
        kernel: int,  # their (odd) size: the unfolding neighbourhood
        latitude_bands: int = 0,  # knots of a LatitudeEmbedding added to the output (0: none)
        latitude_wander: float = 0.0,  # reach of a LatitudeWander in coordinate units (0: none)
    ) -> None:
        super().__init__()
        self.kernel = kernel
        ins = [z_local] + [channels] * (layers - 1)
        self.affines = nn.ModuleList(EqualLinear(z_global, c + COORD_CHANNELS, bias_init=1.0) for c in ins)
        self.convs = nn.ModuleList(ModulatedConv2d(c + COORD_CHANNELS, channels, kernel) for c in ins)
        self.biases = nn.ParameterList(nn.Parameter(torch.zeros(channels)) for _ in ins)
        self.latitude = LatitudeEmbedding(latitude_bands, channels) if latitude_bands else None
        if latitude_wander and not latitude_bands:
            raise ValueError("a latitude wander shifts where the latitude table is read: it needs latitude_bands")
        self.wander = LatitudeWander(channels, latitude_wander) if latitude_wander else None

    def span_maps(self) -> list[ValidConv]:
        return [ValidConv(self.kernel)] * len(self.convs)

    def forward(
        self,
        z_l: torch.Tensor,
        coords: torch.Tensor,
        windows: list[Window],  # len(layers) + 1 kept windows on the z_l grid
        scale: int,  # world pixels per z_l cell
        styles: StyleSource,
    ) -> torch.Tensor:
        x = z_l
        for layer, (affine, conv, bias) in enumerate(zip(self.affines, self.convs, self.biases)):
            have = windows[layer]
            x = torch.cat([x, crop_to(coords, windows[0], have)], dim=1)  # (N, C + 3, h, w)
            x = conv(x, styles.structure(affine, have, scale))  # (N, C, h - k + 1, w - k + 1)
            x = fused_leaky_relu(x, bias)
            gives = ValidConv(self.kernel)
            x = crop_to(x, (gives.gives(have[0]), gives.gives(have[1])), windows[layer + 1])
        if self.latitude is not None:
            v = crop_to(coords, windows[0], windows[-1])[:, 0]
            if self.wander is not None:
                v = self.wander(v, x)
            x = x + self.latitude(v)
        return x
