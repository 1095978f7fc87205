"""SAGAN's generator loss as a pure function of tensors (paper Eq. 3-6). The critic's WGAN-GP loss is the
shared one in `bench.methods._gan`; the score, mean |x - x'| / 2, is in `bench.methods._gan.scoring`."""

from __future__ import annotations

import torch


def generator_loss(critic_on_restored_unlabeled: torch.Tensor, restored_normal: torch.Tensor,
                   normal: torch.Tensor, restored_pseudo: torch.Tensor | None, lambda_id: float = 1.0,
                   lambda_rec: float = 1.0) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """-mean(D(x'_u)) + lambda_id * mean|x'_n - x_n| + lambda_rec * mean((x'_p - x_n)^2).

    `restored_pseudo` is None when pseudo-anomalies are switched off; the restoration term is then dropped.
    Returns the total and its parts (detached) for the loss log.
    """
    adversarial = -critic_on_restored_unlabeled.float().mean()
    identity = (restored_normal.float() - normal.float()).abs().mean()
    total = adversarial + lambda_id * identity
    parts = {"g_adv": adversarial.detach(), "g_id": identity.detach()}
    if restored_pseudo is not None:
        restoration = (restored_pseudo.float() - normal.float()).pow(2).mean()
        total = total + lambda_rec * restoration
        parts["g_rec"] = restoration.detach()
    return total, parts
