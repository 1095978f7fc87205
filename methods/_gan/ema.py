"""Weight averages (EMA) of networks, for GAN plugins that score with averaged weights."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def ema_update(average: nn.Module, live: nn.Module, decay: float) -> None:
    """average <- decay * average + (1 - decay) * live for parameters (tf.train.ExponentialMovingAverage over the
    trainable variables); buffers (BatchNorm statistics, spectral norm's u, v) are copied as they are."""
    for a, p in zip(average.parameters(), live.parameters(), strict=True):
        a.lerp_(p, 1.0 - decay)
    for a, b in zip(average.buffers(), live.buffers(), strict=True):
        a.copy_(b)
