"""HealthyGAN's networks as plain torch modules (no training code).

Generator: StarGAN-style encoder / residual bottleneck / decoder, every convolution without bias, InstanceNorm
with affine parameters and no running statistics (per-sample, so a batch's images never influence each other
and G on two batches equals G on their concatenation). The last layer gives C image channels (tanh: the
intermediate healthy image) and one mask channel ((tanh + 1) / 2).

Critic: PatchGAN without normalisation; LeakyReLU(0.01); output map size / 2^repeat_num.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True, track_running_stats=False)


class ResidualBlock(nn.Module):
    """conv3x3-IN-ReLU-conv3x3-IN with an identity skip."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), _norm(channels), nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False), _norm(channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def split_output(raw: torch.Tensor, image_channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw output -> (healthy image = tanh(first C channels), mask = (tanh(last channel) + 1) / 2)."""
    image = torch.tanh(raw[:, :image_channels])
    mask = (torch.tanh(raw[:, image_channels:image_channels + 1]) + 1) / 2
    return image, mask


class Generator(nn.Module):
    """x (B, C, H, W) in [-1, 1] -> (healthy image (B, C, H, W) in [-1, 1], mask (B, 1, H, W) in [0, 1]).

    `conv_dim` base channels, `n_down` stride-2 stages (width doubles per stage), `res_blocks` residual
    blocks at the bottleneck.
    Paper: conv_dim 64, n_down 2, res_blocks 6 (about 8.4M parameters with 3 channels).
    """

    def __init__(self, channels: int = 3, conv_dim: int = 64, res_blocks: int = 6, n_down: int = 2) -> None:
        super().__init__()
        self.channels = channels
        layers: list[nn.Module] = [nn.Conv2d(channels, conv_dim, 7, 1, 3, bias=False), _norm(conv_dim),
                                   nn.ReLU(inplace=True)]
        width = conv_dim
        for _ in range(n_down):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), _norm(width * 2),
                       nn.ReLU(inplace=True)]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(res_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), _norm(width // 2),
                       nn.ReLU(inplace=True)]
            width //= 2
        layers.append(nn.Conv2d(width, channels + 1, 7, 1, 3, bias=False))
        self.net = nn.Sequential(*layers)

    def forward_raw(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolution's output: C image logits and one mask logit."""
        return self.net(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return split_output(self.net(x), self.channels)


def critic_depth(image_size: int, requested: int | None = None, most: int = 6) -> int:
    """`requested`, or the paper's 6 capped so that the output map stays at least 1 x 1."""
    deepest = int(math.log2(image_size))
    depth = min(most, deepest) if requested is None else requested
    if not 1 <= depth <= deepest:
        raise ValueError(f"d_repeat_num={depth} does not fit {image_size}px images (1..{deepest})")
    return depth


CRITIC_INITS = ("pytorch", "he")


class Critic(nn.Module):
    """PatchGAN critic: `repeat_num` Conv4x4-s2 (with bias) + LeakyReLU(0.01) blocks, widths conv_dim
    doubling, then Conv3x3 -> 1 channel without bias. Output (B, 1, size / 2^repeat_num, same).

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


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
