"""ALAD's networks as plain torch modules, after houssamzenati/Adversarially-Learned-Anomaly-Detection
`alad/cifar10_utilities.py` (the 32 x 32 image architecture) and `utils/sn.py` (spectral norm, one power
iteration, eps 1e-12). Kernels are initialised N(0, 0.01), biases 0 (`init_kernel`); BatchNorm as
tf.layers.batch_normalization (eps 1e-3, momentum 0.99 = torch 0.01); leaky ReLU 0.2; dropout 0.2 in the
discriminators. `sn` marks spectral norm.

At 32 px (widths / `div`, latent 100):
- E: conv4 s2 C->128 sn BN lrelu, 128->256 sn BN lrelu, 256->512 sn BN lrelu, conv4 valid 512->latent (no sn).
- G: tconv4 s2 valid latent->512 (1 -> 4 px) BN ReLU, tconv4 s2 512->256 BN ReLU, 256->128 BN ReLU, 128->C, tanh.
- D_xz: x: conv4 s2 C->128 sn lrelu, 128->256 sn BN lrelu, 256->512 sn BN lrelu, flatten (8192); z: dense
  latent->512 sn lrelu dropout, 512->512 sn lrelu dropout; [x, z] -> dense 1024 sn lrelu dropout (features) -> 1.
- D_xx: x and x' concatenated along the HEIGHT axis (the code's `tf.concat([x, rec_x], axis=1)` on NHWC), conv5 s2
  C->64 sn lrelu dropout, 64->128 sn lrelu dropout, flatten (features, 16384) -> dense 1.
- D_zz: [z, z'] -> dense 64 sn lrelu dropout, 32 sn lrelu dropout (features) -> 1.

Scaling rule (bench's; the code has 32 px only): a side of 32 x 2^k px prepends k stride-2 stages to every image
path (E, D_xz's x path, D_xx) and appends k to G, each at half the width of its neighbour, so the official layers
and the feature sizes stay as they are (64 px: E 64->128->256->512, G ...->128->64->C, D_xx 32->64->128).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

INIT_STD = 0.01
BN_EPS, BN_MOMENTUM = 1e-3, 0.01
LEAK, DROPOUT = 0.2, 0.2


def extra_stages(size: int) -> int:
    """k for a side of 32 x 2^k px (0 at the official 32 px)."""
    k = int(round(math.log2(size / 32))) if size >= 32 else -1
    if k < 0 or 32 * 2**k != size:
        raise ValueError(f"ALAD's networks need a side of 32 x 2^k px (32, 64, 128, ...), got {size}")
    return k


def _init(module: nn.Module) -> nn.Module:
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
            nn.init.normal_(m.weight, 0.0, INIT_STD)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module


def sn(layer: nn.Module) -> nn.Module:
    return spectral_norm(_init(layer), n_power_iterations=1, eps=1e-12)


def bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def image_widths(official: list[int], extra: int) -> list[int]:
    """`official` with `extra` stages of halving width prepended."""
    widths = list(official)
    for _ in range(extra):
        widths.insert(0, max(1, widths[0] // 2))
    return widths


class Encoder(nn.Module):
    """x (B, C, s, s) -> z (B, latent)."""

    def __init__(self, size: int = 32, channels: int = 3, latent: int = 100, div: int = 1) -> None:
        super().__init__()
        widths = image_widths([128 // div, 256 // div, 512 // div], extra_stages(size))
        layers: list[nn.Module] = []
        for a, b in zip([channels, *widths], widths, strict=False):
            layers += [sn(nn.Conv2d(a, b, 4, 2, 1)), bn(b), nn.LeakyReLU(LEAK)]
        layers.append(_init(nn.Conv2d(widths[-1], latent, 4, 1, 0)))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten(1)


class Generator(nn.Module):
    """z (B, latent) -> x (B, C, s, s) in [-1, 1]."""

    def __init__(self, size: int = 32, channels: int = 3, latent: int = 100, div: int = 1) -> None:
        super().__init__()
        self.latent = latent
        widths = image_widths([128 // div, 256 // div, 512 // div], extra_stages(size))[::-1]  # 512, 256, ...
        layers: list[nn.Module] = [_init(nn.ConvTranspose2d(latent, widths[0], 4, 2, 0)), bn(widths[0]), nn.ReLU()]
        for a, b in zip(widths, widths[1:], strict=False):
            layers += [_init(nn.ConvTranspose2d(a, b, 4, 2, 1)), bn(b), nn.ReLU()]
        layers += [_init(nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1)), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z.view(-1, self.latent, 1, 1))


class DiscriminatorXZ(nn.Module):
    """(x, z) -> (logit (B,), features (B, 1024))."""

    def __init__(self, size: int = 32, channels: int = 3, latent: int = 100, div: int = 1) -> None:
        super().__init__()
        widths = image_widths([128 // div, 256 // div, 512 // div], extra_stages(size))
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip([channels, *widths], widths, strict=False)):
            layers += [sn(nn.Conv2d(a, b, 4, 2, 1)), *([bn(b)] if i > 0 else []), nn.LeakyReLU(LEAK)]
        self.x_path = nn.Sequential(*layers)
        z_width = 512 // div
        self.z_path = nn.Sequential(sn(nn.Linear(latent, z_width)), nn.LeakyReLU(LEAK), nn.Dropout(DROPOUT),
                                    sn(nn.Linear(z_width, z_width)), nn.LeakyReLU(LEAK), nn.Dropout(DROPOUT))
        joint = widths[-1] * 4 * 4 + z_width
        self.y_path = nn.Sequential(sn(nn.Linear(joint, 1024 // div)), nn.LeakyReLU(LEAK), nn.Dropout(DROPOUT))
        self.output = _init(nn.Linear(1024 // div, 1))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # TF flattens NHWC, torch NCHW: a fixed permutation of the same features (nothing downstream depends on it)
        features = self.y_path(torch.cat([self.x_path(x).flatten(1), self.z_path(z)], dim=1))
        return self.output(features).view(-1), features


class DiscriminatorXX(nn.Module):
    """(x, x') -> (logit (B,), features (B, 16384 / div)): x and x' stacked along the height."""

    def __init__(self, size: int = 32, channels: int = 3, div: int = 1) -> None:
        super().__init__()
        widths = image_widths([64 // div, 128 // div], extra_stages(size))
        layers: list[nn.Module] = []
        for a, b in zip([channels, *widths], widths, strict=False):
            layers += [sn(nn.Conv2d(a, b, 5, 2, 2)), nn.LeakyReLU(LEAK), nn.Dropout(DROPOUT)]
        self.net = nn.Sequential(*layers)
        self.output = _init(nn.Linear(widths[-1] * 16 * 8, 1))

    def forward(self, x: torch.Tensor, x_other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.net(torch.cat([x, x_other], dim=2)).flatten(1)
        return self.output(features).view(-1), features


class DiscriminatorZZ(nn.Module):
    """(z, z') -> (logit (B,), features (B, 32 / div))."""

    def __init__(self, latent: int = 100, div: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(sn(nn.Linear(2 * latent, 64 // div)), nn.LeakyReLU(LEAK), nn.Dropout(DROPOUT),
                                 sn(nn.Linear(64 // div, 32 // div)), nn.LeakyReLU(LEAK), nn.Dropout(DROPOUT))
        self.output = _init(nn.Linear(32 // div, 1))

    def forward(self, z: torch.Tensor, z_other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.net(torch.cat([z, z_other], dim=1))
        return self.output(features).view(-1), features


class Generators(nn.ModuleDict):
    """E and G together (the loop's "G" side: one Adam over both, see trainer.py)."""

    def __init__(self, size: int, channels: int, latent: int, div: int) -> None:
        super().__init__({"E": Encoder(size, channels, latent, div), "G": Generator(size, channels, latent, div)})


class Discriminators(nn.ModuleDict):
    """D_xz, D_xx and D_zz together (the loop's "D" side)."""

    def __init__(self, size: int, channels: int, latent: int, div: int) -> None:
        super().__init__({"xz": DiscriminatorXZ(size, channels, latent, div),
                          "xx": DiscriminatorXX(size, channels, div), "zz": DiscriminatorZZ(latent, div)})
