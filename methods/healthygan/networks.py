"""HealthyGAN's networks as plain torch modules (no training code).

Generator: StarGAN-style encoder / residual bottleneck / decoder, every convolution without bias, InstanceNorm
with affine parameters and no running statistics (per-sample, so a batch's images never influence each other
and G on two batches equals G on their concatenation). The last layer gives C image channels (tanh: the
intermediate healthy image) and one mask channel ((tanh + 1) / 2).

The critic is the PatchGAN shared with SAGAN (bench.methods._gan.networks).
"""

from __future__ import annotations

import torch
from torch import nn

from bench.methods._gan.networks import ResidualBlock, norm


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
        layers: list[nn.Module] = [nn.Conv2d(channels, conv_dim, 7, 1, 3, bias=False), norm(conv_dim),
                                   nn.ReLU(inplace=True)]
        width = conv_dim
        for _ in range(n_down):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), norm(width * 2),
                       nn.ReLU(inplace=True)]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(res_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), norm(width // 2),
                       nn.ReLU(inplace=True)]
            width //= 2
        layers.append(nn.Conv2d(width, channels + 1, 7, 1, 3, bias=False))
        self.net = nn.Sequential(*layers)

    def forward_raw(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolution's output: C image logits and one mask logit."""
        return self.net(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return split_output(self.net(x), self.channels)
