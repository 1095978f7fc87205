"""ALOCC's losses and scores as pure functions of tensors (models.py `build_model`, `f_test_frozen_model`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

NOISE_SIGMA = 0.155  # kh_tools.get_noisy_data / read_image_w_noise


def add_noise(x: torch.Tensor, sigma: float = NOISE_SIGMA) -> torch.Tensor:
    """skimage's random_noise(x, var=sigma^2) on an image in [-1, 1]: x + N(0, sigma^2), clipped to [-1, 1]."""
    return (x + sigma * torch.randn_like(x)).clamp(-1.0, 1.0)


def bce_logits(logits: torch.Tensor, target: float | torch.Tensor) -> torch.Tensor:
    """mean sigmoid cross-entropy (tf.nn.sigmoid_cross_entropy_with_logits) in float32."""
    logits = logits.float()
    if not isinstance(target, torch.Tensor):
        target = torch.full_like(logits, float(target))
    return F.binary_cross_entropy_with_logits(logits, target.float())


def d_loss(d_real: torch.Tensor, d_refined: torch.Tensor) -> torch.Tensor:
    """BCE(D(x), 1) + BCE(D(R(x_noisy)), 0) (logits in)."""
    return bce_logits(d_real, 1.0) + bce_logits(d_refined, 0.0)


def refinement(refined: torch.Tensor, noisy: torch.Tensor, clean: torch.Tensor, kind: str = "code") -> torch.Tensor:
    """The code's sigmoid cross-entropy with R(x_noisy) as logits and x_noisy as labels ('code'), or the paper's
    mean (x - R(x_noisy))^2 ('paper', x the clean image)."""
    if kind == "paper":
        return (refined.float() - clean.float()).pow(2).mean()
    return bce_logits(refined, noisy)


def g_loss(d_refined: torch.Tensor, refined: torch.Tensor, noisy: torch.Tensor, clean: torch.Tensor,
           r_alpha: float = 0.2, kind: str = "code") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """BCE(D(R(x_noisy)), 1) + r_alpha * refinement; returns (total, adversarial, refinement)."""
    adversarial = bce_logits(d_refined, 1.0)
    rec = refinement(refined, noisy, clean, kind)
    return adversarial + r_alpha * rec, adversarial, rec


def anomaly_score(d_logits: torch.Tensor) -> torch.Tensor:
    """1 - D(.) = sigmoid(-logit), in float64 (no saturation at 1 in float32): higher = more anomalous."""
    return torch.sigmoid(-d_logits.double())
