"""Network pieces the GAN plugins share, as plain torch modules (no training code).

- The PatchGAN critic of HealthyGAN (StarGAN's D without normalisation), which SAGAN uses unchanged
  (methods/sagan/README.md: "HealthyGAN's D with 1 input channel").
- The affine InstanceNorm and the residual block both generators are built from.
- `count_parameters`, for run.json.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

CRITIC_INITS = ("pytorch", "he")


def norm(channels: int) -> nn.InstanceNorm2d:
    """Affine instance norm without running statistics: per-sample, the same in training and evaluation, so a
    batch's images never influence each other and G on two batches equals G on their concatenation."""
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)


class ResidualBlock(nn.Module):
    """conv3x3-IN-ReLU-conv3x3-IN (convolutions without bias) with an identity skip."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), norm(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def critic_depth(image_size: int, requested: int | None = None, most: int = 6) -> int:
    """`requested`, or the paper's 6 capped so that the output map stays at least 1 x 1."""
    deepest = int(math.log2(image_size))
    depth = min(most, deepest) if requested is None else requested
    if not 1 <= depth <= deepest:
        raise ValueError(f"d_repeat_num={depth} does not fit {image_size}px images (1..{deepest})")
    return depth


class Critic(nn.Module):
    """PatchGAN critic: `repeat_num` Conv4x4-s2 (with bias) + LeakyReLU(0.01) blocks, widths conv_dim
    doubling, then Conv3x3 -> 1 channel without bias. Output (B, 1, size / 2^repeat_num, same).

    No batch statistics, so scoring real and fake images in one pass is exactly two passes.

    `init="pytorch"` keeps PyTorch's default init (the public code's). `init="he"` draws the weights with He's
    normal init for LeakyReLU and zero biases: PyTorch's default shrinks the signal at every layer, so the input
    gradient starts near 1e-3, the gradient penalty sits at 1 and small critics can stay there for thousands of
    iterations (a flat critic that teaches G nothing); He's init starts it near 0.2-1.
    """

    def __init__(self, channels: int = 3, conv_dim: int = 64, repeat_num: int = 6, init: str = "pytorch") -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in, width = channels, conv_dim
        for _ in range(repeat_num):
            layers += [nn.Conv2d(width_in, width, 4, 2, 1), nn.LeakyReLU(0.01)]
            width_in, width = width, width * 2
        layers.append(nn.Conv2d(width_in, 1, 3, 1, 1, bias=False))
        self.net = nn.Sequential(*layers)
        if init not in CRITIC_INITS:
            raise ValueError(f"unknown critic init {init!r}; use one of {', '.join(CRITIC_INITS)}")
        if init == "he":
            for conv in self.net:
                if isinstance(conv, nn.Conv2d):
                    nn.init.kaiming_normal_(conv.weight, a=0.01, nonlinearity="leaky_relu")
                    if conv.bias is not None:
                        nn.init.zeros_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_critic(config: Any, size: int) -> Critic:
    """The critic a GAN config asks for (`channels`, `d_conv_dim`, `d_repeat_num`, `critic_init`) for `size` px
    images, its depth capped so that the output map stays >= 1 x 1."""
    return Critic(config.channels, config.d_conv_dim, critic_depth(size, config.d_repeat_num),
                  init=config.critic_init)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def n_parameters(module: nn.Module) -> int:
    """Every parameter of `module`, frozen ones too (a network frozen for inference counts in full; spectral norm's
    u, v are buffers, not counted, as TF's non-trainable u)."""
    return sum(p.numel() for p in module.parameters())
