"""HealthyGAN's composition (paper Eq. 1-2) and losses as pure functions of tensors.

The critic's WGAN-GP loss is the shared one in `bench.methods._gan.wgan`; the score, mean |x - x_hat| / 2, is
the shared one in `bench.methods._gan.scoring` (SAGAN's is the same).
"""

from __future__ import annotations

import torch

FOCUS_EPS = 0.01  # the zero-one term's epsilon: 1 / (|M - 0.5| + eps) is smallest (1 / 0.51) at M in {0, 1}


def compose(x: torch.Tensor, healthy: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 1: `x_hat = img * M + x * (1 - M)`: the healthy image where the mask is on, the input elsewhere."""
    return healthy * mask + x * (1 - mask)


def mask_inverse(x: torch.Tensor, healthy: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Eq. 2: `x_rec = x * M + img * (1 - M)`: forces `img` to match x wherever the mask is off."""
    return x * mask + healthy * (1 - mask)


def focus_loss(mask: torch.Tensor, lambda_small: float = 1.0, lambda_zeroone: float = 1.0,
               eps: float = FOCUS_EPS) -> torch.Tensor:
    """`lambda_small * mean(M)^2 + lambda_zeroone * (mean(1 / (|M - 0.5| + eps)) - 1 / (0.5 + eps))`.

    The first term keeps the mask small, the second pushes it to 0 or 1 (it is exactly 0 for a binary mask).
    """
    mask = mask.float()
    small = mask.mean() ** 2
    zero_one = (1.0 / ((mask - 0.5).abs() + eps)).mean() - 1.0 / (0.5 + eps)
    return lambda_small * small + lambda_zeroone * zero_one


def l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """mean |a - b| in float32."""
    return (a.float() - b.float()).abs().mean()
