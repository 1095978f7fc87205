"""DDAD's networks, as the authors' `models/autoencoder.py`, `models/memory_ae.py` and `models/refine_net.py` build
them (caiyu6666/DDAD-ASR): the same layers in the same order, so their state_dict keys and shapes map 1:1 onto the
official modules' (tests/methods/test_ddad_networks.py checks both against numbers measured on the official code).

AE at 64 px: four 4x4 stride-2 convolutions 1 -> 16m -> 32m -> 64m -> 64m (BN, ReLU), FC (64m * (s/16)^2) -> 2048
(BN, ReLU) -> latent, a mirrored decoder of transposed convolutions. AE-U predicts a second channel, the
log-variance. MemAE addresses a memory of `mem_dim` latent prototypes (softmax attention, optional hard shrinkage).
The ASR-Net: three 3x3 convolutions (128 channels, BN, ReLU) to 2 classes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

BACKBONES = ("ae", "ae-u", "memae")


class Reconstruction(NamedTuple):
    """An autoencoder's output: the reconstruction (B, 1, H, W); AE-U's log-variance map, MemAE's memory
    attention (B, mem_dim), None where the backbone has none."""

    mean: torch.Tensor
    logvar: torch.Tensor | None = None
    attention: torch.Tensor | None = None


def _down(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


def _up(cin: int, cout: int) -> list[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]


class Autoencoder(nn.Module):
    """The AE / AE-U of DDAD (`uncertainty=True`: AE-U, 2 output channels split into mean and log-variance)."""

    def __init__(self, latent_size: int = 16, multiplier: float = 1.0, image_size: int = 64,
                 uncertainty: bool = False, memory: Callable[[], nn.Module] | None = None) -> None:
        super().__init__()
        if image_size % 16:
            raise ValueError(f"DDAD's autoencoder needs an image size divisible by 16, got {image_size}")
        widths = [int(16 * multiplier), int(32 * multiplier), int(64 * multiplier), int(64 * multiplier)]
        self.fm = image_size // 16
        self.top = widths[-1]
        self.uncertainty = uncertainty
        flat = self.top * self.fm * self.fm
        self.encoder = nn.Sequential(*_down(1, widths[0]), *_down(widths[0], widths[1]),
                                     *_down(widths[1], widths[2]), *_down(widths[2], widths[3]))
        self.linear_enc = nn.Sequential(nn.Linear(flat, 2048), nn.BatchNorm1d(2048), nn.ReLU(True),
                                        nn.Linear(2048, latent_size))
        if memory is not None:  # built here: the authors' order of layers, state_dict keys and initialisation
            self.mem_rep = memory()
        self.linear_dec = nn.Sequential(nn.Linear(latent_size, 2048), nn.BatchNorm1d(2048), nn.ReLU(True),
                                        nn.Linear(2048, flat))
        self.decoder = nn.Sequential(*_up(widths[3], widths[2]), *_up(widths[2], widths[1]),
                                     *_up(widths[1], widths[0]),
                                     nn.ConvTranspose2d(widths[0], 2 if uncertainty else 1, 4, 2, 1, bias=False))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        # reshape, not view: a channels_last feature map flattens in the same (C, H, W) order either way
        return self.linear_enc(self.encoder(x).reshape(x.shape[0], -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.linear_dec(z).reshape(z.shape[0], self.top, self.fm, self.fm))

    def forward(self, x: torch.Tensor) -> Reconstruction:
        out = self.decode(self.encode(x))
        if self.uncertainty:
            mean, logvar = out.chunk(2, dim=1)
            return Reconstruction(mean, logvar)
        return Reconstruction(out)


class Memory(nn.Module):
    """MemAE's memory: `mem_dim` prototypes of the latent; a latent is replaced by its attention-weighted sum.
    Initialised uniformly in +-1/sqrt(latent), as the authors' MemoryUnit."""

    def __init__(self, mem_dim: int, latent_size: int, shrink_threshold: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(mem_dim, latent_size))
        self.shrink_threshold = shrink_threshold
        bound = 1.0 / math.sqrt(latent_size)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        attention = F.softmax(F.linear(z, self.weight), dim=1)
        if self.shrink_threshold > 0:
            attention = hard_shrink_relu(attention, self.shrink_threshold)
            attention = F.normalize(attention, p=1, dim=1)
        return F.linear(attention, self.weight.t()), attention


class MemoryHolder(nn.Module):
    """Holds the memory under `memory` (the authors' MemModule), so state_dict keys read `mem_rep.memory.weight`."""

    def __init__(self, mem_dim: int, latent_size: int, shrink_threshold: float) -> None:
        super().__init__()
        self.memory = Memory(mem_dim, latent_size, shrink_threshold)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.memory(z)


class MemAE(Autoencoder):
    """The AE with a memory between encoder and decoder (MemAE; the latent is a vector, one address per image)."""

    def __init__(self, latent_size: int = 16, multiplier: float = 1.0, image_size: int = 64, mem_dim: int = 25,
                 shrink_threshold: float = 0.0) -> None:
        super().__init__(latent_size, multiplier, image_size, uncertainty=False,
                         memory=lambda: MemoryHolder(mem_dim, latent_size, shrink_threshold))

    def forward(self, x: torch.Tensor) -> Reconstruction:
        z, attention = self.mem_rep(self.encode(x))
        return Reconstruction(self.decode(z), attention=attention)


def hard_shrink_relu(x: torch.Tensor, threshold: float, eps: float = 1e-12) -> torch.Tensor:
    """max(x - threshold, 0) * x / (|x - threshold| + eps): MemAE's shrinkage of small attention weights."""
    return F.relu(x - threshold) * x / ((x - threshold).abs() + eps)


class RefineNet(nn.Module):
    """The ASR-Net: three 3x3 convolutions (BN, ReLU between) from the discrepancy maps to 2-class logits."""

    def __init__(self, in_channels: int = 2, out_channels: int = 2, mid_channels: int = 128) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, 3, 1, 1), nn.BatchNorm2d(mid_channels), nn.ReLU(),
            nn.Conv2d(mid_channels, mid_channels, 3, 1, 1), nn.BatchNorm2d(mid_channels), nn.ReLU(),
            nn.Conv2d(mid_channels, out_channels, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_backbone(backbone: str, *, latent_size: int, multiplier: float, image_size: int, mem_dim: int,
                   shrink_threshold: float) -> Autoencoder:
    """A fresh autoencoder of `backbone` ("ae", "ae-u" or "memae")."""
    if backbone == "ae":
        return Autoencoder(latent_size, multiplier, image_size)
    if backbone == "ae-u":
        return Autoencoder(latent_size, multiplier, image_size, uncertainty=True)
    if backbone == "memae":
        return MemAE(latent_size, multiplier, image_size, mem_dim, shrink_threshold)
    raise ValueError(f"unknown DDAD backbone {backbone!r}; use one of {', '.join(BACKBONES)}")


def count_parameters(module: nn.Module) -> int:
    """Trainable parameters of `module`."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
