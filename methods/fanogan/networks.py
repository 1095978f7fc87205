"""f-AnoGAN's networks as plain torch modules, after tSchlegl/f-AnoGAN `wgangp_64x64.py` (Gulrajani's ResNet
GoodGenerator / GoodDiscriminator) and `z_encoding_izif.py` (the izi_f Encoder).

At 64 px, `dim` 64 and latent 128 (the official settings):
- Generator: Linear(128 -> 4*4*8dim), four up ResBlocks 8dim->8dim->4dim->2dim->dim, BN, ReLU, conv3 dim->1, tanh.
- Critic: conv3 1->dim, four down ResBlocks dim->2dim->4dim->8dim->8dim, flatten (the feature layer f, 8192 wide),
  Linear(4*4*8dim -> 1). Its norms are LayerNorm over (C, H, W) with a per-channel scale and offset (tflib's
  Layernorm), as the official code applies to every 'Discriminator' norm under WGAN-GP.
- Encoder: the critic's body with BatchNorm, Linear(4*4*8dim -> latent), tanh (Z_REG_TYPE 'tanh_fc').
ResBlock: norm, ReLU, conv1 (no bias), norm, ReLU, conv2 (bias) + shortcut (identity, or a 1x1 conv with bias
behind a mean-pool / nearest 2x upsampling). 'down': conv1 in->in, conv2 in->out then 2x2 mean-pool; 'up':
nearest 2x upsampling then conv1 in->out, conv2 out->out. BatchNorm as tf.layers.batch_normalization: eps 1e-3,
moving-average momentum 0.99 (torch momentum 0.01).

Scaling rule (bench's, the code has 64 px only): a side of 2^k px uses k - 2 ResBlocks (one stride-2 stage per
doubling) with the widths continuing the official pattern (down: min(2^(i+1), 8) x dim), so 64 px is exactly the
official network and 4 x 4 x 8dim stays the feature size.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

BN_EPS, BN_MOMENTUM = 1e-3, 0.01  # tf.layers.batch_normalization defaults (decay 0.99)
LN_EPS = 1e-5  # tflib Layernorm


class ChannelLayerNorm(nn.Module):
    """Normalise each sample over (C, H, W); then a per-channel scale and offset (tflib's Layernorm)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels))
        self.offset = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = F.layer_norm(x, x.shape[1:], eps=LN_EPS)
        return normed * self.scale.view(1, -1, 1, 1) + self.offset.view(1, -1, 1, 1)


def make_norm(kind: str, channels: int) -> nn.Module:
    if kind == "layer":
        return ChannelLayerNorm(channels)
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def stages(size: int) -> int:
    """ResBlocks for a side of `size` px: log2(size) - 2 (4 at 64 px); `size` must be a power of two >= 8."""
    k = int(round(math.log2(size)))
    if size < 8 or 2**k != size:
        raise ValueError(f"f-AnoGAN's networks need a power-of-two image size >= 8, got {size}")
    return k - 2


def down_widths(size: int, dim: int) -> list[int]:
    """Channel widths through the down path: [dim, 2dim, 4dim, 8dim, 8dim] at 64 px."""
    return [dim] + [min(2 ** (i + 1), 8) * dim for i in range(stages(size))]


class ResBlock(nn.Module):
    """Gulrajani's ResidualBlock (resample None, 'down' or 'up'), see the module docstring."""

    def __init__(self, in_ch: int, out_ch: int, resample: str | None, norm: str) -> None:
        super().__init__()
        self.resample = resample
        mid = in_ch if resample != "up" else out_ch
        self.norm1 = make_norm(norm, in_ch)
        self.conv1 = nn.Conv2d(in_ch, mid, 3, 1, 1, bias=False)
        self.norm2 = make_norm(norm, mid)
        self.conv2 = nn.Conv2d(mid, out_ch, 3, 1, 1)
        self.shortcut = None if (in_ch == out_ch and resample is None) else nn.Conv2d(in_ch, out_ch, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.resample == "up":
            x_up = F.interpolate(x, scale_factor=2, mode="nearest")
            short = x if self.shortcut is None else self.shortcut(x_up)
            out = self.conv1(F.interpolate(F.relu(self.norm1(x)), scale_factor=2, mode="nearest"))
            out = self.conv2(F.relu(self.norm2(out)))
            return short + out
        out = self.conv1(F.relu(self.norm1(x)))
        out = self.conv2(F.relu(self.norm2(out)))
        if self.resample == "down":
            out = F.avg_pool2d(out, 2)
            short = x if self.shortcut is None else self.shortcut(F.avg_pool2d(x, 2))
        else:
            short = x if self.shortcut is None else self.shortcut(x)
        return short + out


class Generator(nn.Module):
    """z (B, latent) -> image (B, channels, size, size) in [-1, 1]."""

    def __init__(self, size: int = 64, dim: int = 64, latent: int = 128, channels: int = 1) -> None:
        super().__init__()
        widths = down_widths(size, dim)[::-1]  # [8dim, 8dim, 4dim, 2dim, dim] at 64 px
        self.top = widths[0]
        self.input = nn.Linear(latent, 4 * 4 * self.top)
        self.blocks = nn.Sequential(*(ResBlock(a, b, "up", "batch") for a, b in zip(widths, widths[1:], strict=False)))
        self.out_norm = make_norm("batch", widths[-1])
        self.output = nn.Conv2d(widths[-1], channels, 3, 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = self.input(z).view(-1, self.top, 4, 4)
        x = F.relu(self.out_norm(self.blocks(x)))
        return torch.tanh(self.output(x))


class _DownNet(nn.Module):
    """conv3 channels->dim, the down ResBlocks, flatten: the body the critic and the encoder share."""

    def __init__(self, size: int, dim: int, channels: int, norm: str) -> None:
        super().__init__()
        widths = down_widths(size, dim)
        self.input = nn.Conv2d(channels, dim, 3, 1, 1)
        self.blocks = nn.Sequential(*(ResBlock(a, b, "down", norm) for a, b in zip(widths, widths[1:], strict=False)))
        self.feature_size = 4 * 4 * widths[-1]

    def body(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.input(x)).flatten(1)


class Critic(_DownNet):
    """x -> (B,) critic value; `features(x)` is the flattened last ResBlock output (f in izi_f)."""

    def __init__(self, size: int = 64, dim: int = 64, channels: int = 1) -> None:
        super().__init__(size, dim, channels, "layer")
        self.output = nn.Linear(self.feature_size, 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.output(self.body(x)).view(-1)


class Encoder(_DownNet):
    """x -> z = tanh(Linear(body(x))) in (-1, 1)^latent."""

    def __init__(self, size: int = 64, dim: int = 64, latent: int = 128, channels: int = 1) -> None:
        super().__init__(size, dim, channels, "batch")
        self.output = nn.Linear(self.feature_size, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.output(self.body(x)))
