"""ALOCC's networks as plain torch modules, after khalooei/ALOCC-CVPR2018 `models.py` / `ops.py` (DCGAN ops:
5x5 kernels, stride 2, 'SAME' padding, BatchNorm decay 0.9 / eps 1e-5, leaky ReLU 0.2).

With gf_dim = df_dim = 16 (the official values):
- R (the "generator"): encoder conv 1->32 BN lrelu, 32->64 BN lrelu, 64->128 BN lrelu (g_bn4-6); decoder deconv
  128->32 BN ReLU, 32->16 BN ReLU, 16->C, tanh. The decoder's output sizes are the encoder's input sizes in
  reverse, so any side works (the code runs the same list at 28 and 45 px).
- D: conv C->16 lrelu, 16->32 BN lrelu, 32->64 BN lrelu, 64->128 BN lrelu, Linear(flatten -> 1); returns the
  logit (sigmoid = D's probability of "normal").
"""

from __future__ import annotations

import torch
from torch import nn

KERNEL = 5
LEAK = 0.2


def conv(in_ch: int, out_ch: int) -> nn.Conv2d:
    """5x5 stride-2 convolution, padding 2 (TF 'SAME' gives ceil(n / 2) too)."""
    return nn.Conv2d(in_ch, out_ch, KERNEL, 2, KERNEL // 2)


def deconv(in_ch: int, out_ch: int) -> nn.ConvTranspose2d:
    return nn.ConvTranspose2d(in_ch, out_ch, KERNEL, 2, KERNEL // 2)


def down_size(n: int) -> int:
    """A 'SAME' stride-2 convolution's output side."""
    return (n + 1) // 2


class Refiner(nn.Module):
    """x (noisy or clean, [-1, 1]) -> R(x) in [-1, 1], same shape."""

    def __init__(self, channels: int = 1, gf_dim: int = 16, df_dim: int = 16) -> None:
        super().__init__()
        widths = [channels, df_dim * 2, df_dim * 4, df_dim * 8]
        self.encoder = nn.ModuleList(conv(a, b) for a, b in zip(widths, widths[1:], strict=False))
        self.encoder_norms = nn.ModuleList(nn.BatchNorm2d(w) for w in widths[1:])
        self.decoder = nn.ModuleList([deconv(df_dim * 8, gf_dim * 2), deconv(gf_dim * 2, gf_dim),
                                      deconv(gf_dim, channels)])
        self.decoder_norms = nn.ModuleList([nn.BatchNorm2d(gf_dim * 2), nn.BatchNorm2d(gf_dim)])
        self.leaky = nn.LeakyReLU(LEAK)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        sizes = [tuple(x.shape[-2:])]
        for layer, norm in zip(self.encoder, self.encoder_norms, strict=True):
            x = self.leaky(norm(layer(x)))
            sizes.append(tuple(x.shape[-2:]))
        targets = sizes[-2::-1]  # the encoder's input sizes in reverse
        for i, layer in enumerate(self.decoder):
            x = layer(x, output_size=targets[i])
            if i < len(self.decoder_norms):
                x = torch.relu(self.decoder_norms[i](x))
        return torch.tanh(x)


class Discriminator(nn.Module):
    """x -> (B,) logits of D (sigmoid: the probability that x is a normal image)."""

    def __init__(self, size: int, channels: int = 1, df_dim: int = 16) -> None:
        super().__init__()
        widths = [channels, df_dim, df_dim * 2, df_dim * 4, df_dim * 8]
        self.convs = nn.ModuleList(conv(a, b) for a, b in zip(widths, widths[1:], strict=False))
        self.norms = nn.ModuleList([nn.Identity(), *(nn.BatchNorm2d(w) for w in widths[2:])])
        side = size
        for _ in range(4):
            side = down_size(side)
        self.output = nn.Linear(widths[-1] * side * side, 1)
        self.leaky = nn.LeakyReLU(LEAK)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer, norm in zip(self.convs, self.norms, strict=True):
            x = self.leaky(norm(layer(x)))
        return self.output(x.flatten(1)).view(-1)
