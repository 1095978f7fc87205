"""Brainomaly's generator losses as pure functions of tensors (mahfuzmohammad/Brainomaly `solver.py` `train`).

The critic's WGAN-GP loss (lambda 10, known healthy B real, translated mixed A fake) is the shared one in
`bench.methods._gan.wgan`; the score, mean |x - x'| / 2, is the shared one in `bench.methods._gan.scoring`.
"""

from __future__ import annotations

import torch


def identity_loss(healthy: torch.Tensor, translated_healthy: torch.Tensor) -> torch.Tensor:
    """`mean |x_B - tanh(x_B + G(x_B))|` in float32: a known healthy image must come back unchanged."""
    return (healthy.float() - translated_healthy.float()).abs().mean()


def generator_loss(critic_on_translated_mixed: torch.Tensor, healthy: torch.Tensor,
                   translated_healthy: torch.Tensor, lambda_id: float) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """`-mean(D(tanh(x_A + G(x_A)))) + lambda_id * mean |x_B - tanh(x_B + G(x_B))|` and its two terms."""
    adversarial = -critic_on_translated_mixed.float().mean()
    identity = identity_loss(healthy, translated_healthy)
    return adversarial + lambda_id * identity, {"adv": adversarial.detach(), "id": identity.detach()}
