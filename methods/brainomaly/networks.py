"""Brainomaly's generator as a plain torch module (no training code).

mahfuzmohammad/Brainomaly `model.py` `Generator(conv_dim, c_dim=0, repeat_num)`: StarGAN's generator (conv7 64,
two stride-2 downsamplings, `repeat_num` residual blocks, two transposed-convolution upsamplings, every
convolution without bias, affine InstanceNorm) whose last conv7 gives ONE channel: an additive map m, and the
translated image is tanh(x + m) (broadcast over the image's channels; no mask, no tanh on m).

InstanceNorm keeps no running statistics here (`bench.methods._gan.networks.norm`). The official modules set
`track_running_stats=True` but never call `.eval()`: training and testing both normalise with each image's own
statistics, as these modules do, so the outputs are the same; only the unused buffers are gone (parameters equal).

The critic is HealthyGAN's PatchGAN, shared by every GAN (bench.methods._gan.networks.Critic); the official
`Discriminator` is the same network (it also returns the last hidden features, which Brainomaly never uses).
"""

from __future__ import annotations

import torch
from torch import nn

from bench.methods._gan.networks import ResidualBlock, norm


def translate(x: torch.Tensor, additive_map: torch.Tensor) -> torch.Tensor:
    """x' = tanh(x + m): the map added to every channel of x, squashed back into [-1, 1]."""
    return torch.tanh(x + additive_map)


class Generator(nn.Module):
    """x (B, C, H, W) in [-1, 1] -> the additive map m (B, 1, H, W), unbounded.

    `conv_dim` base channels, two stride-2 stages (width doubles per stage), `res_blocks` residual blocks at the
    bottleneck. The authors': conv_dim 64, res_blocks 6, 3 input channels (8,408,576 parameters, as the official
    module's count).
    """

    def __init__(self, channels: int = 3, conv_dim: int = 64, res_blocks: int = 6, n_down: int = 2) -> None:
        super().__init__()
        self.channels = channels
        layers: list[nn.Module] = [nn.Conv2d(channels, conv_dim, 7, 1, 3, bias=False), norm(conv_dim),
                                   nn.ReLU(inplace=True)]
        width = conv_dim
        for _ in range(n_down):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), norm(width * 2), nn.ReLU(inplace=True)]
            width *= 2
        layers += [ResidualBlock(width) for _ in range(res_blocks)]
        for _ in range(n_down):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), norm(width // 2),
                       nn.ReLU(inplace=True)]
            width //= 2
        layers.append(nn.Conv2d(width, 1, 7, 1, 3, bias=False))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
