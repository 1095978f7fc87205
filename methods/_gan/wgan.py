"""WGAN-GP pieces shared by the GANs: the critic loss, the generator's adversarial term and the gradient
penalty (Gulrajani et al. 2017) with per-sample interpolation between real and fake images."""

from __future__ import annotations

from collections.abc import Callable

import torch

LAMBDA_GP = 10.0  # the value of the WGAN-GP paper, used by HealthyGAN and SAGAN


def critic_loss(critic_on_real: torch.Tensor, critic_on_fake: torch.Tensor) -> torch.Tensor:
    """`mean(D(fake)) - mean(D(real))`: the Wasserstein critic's loss (without the penalty)."""
    return critic_on_fake.float().mean() - critic_on_real.float().mean()


def generator_adversarial_loss(critic_on_fake: torch.Tensor) -> torch.Tensor:
    """`-mean(D(fake))`: the generator's adversarial term."""
    return -critic_on_fake.float().mean()


def interpolate(real: torch.Tensor, fake: torch.Tensor, alpha: torch.Tensor | None = None) -> torch.Tensor:
    """`alpha * real + (1 - alpha) * fake` with one alpha ~ U(0, 1) per sample (drawn when not given)."""
    if alpha is None:
        alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=torch.float32)
    alpha = alpha.to(real.dtype).view(-1, *([1] * (real.dim() - 1)))
    return (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     alpha: torch.Tensor | None = None) -> torch.Tensor:
    """`mean((||grad_x D(x_interp)||_2 - 1)^2)` over the batch, computed in float32.

    `create_graph=True` so that the penalty itself is differentiated in the critic's backward pass.
    """
    mixed = interpolate(real, fake, alpha)
    out = critic(mixed)
    (grad,) = torch.autograd.grad(out.float().sum(), mixed, create_graph=True)
    norms = grad.float().flatten(1).norm(2, dim=1)
    return ((norms - 1.0) ** 2).mean()


def critic_loss_gp(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                   lambda_gp: float = LAMBDA_GP) -> dict[str, torch.Tensor]:
    """The full WGAN-GP critic objective with real and fake scored in one batched pass.

    One pass is exactly equivalent to two when the critic has no batch statistics (no BatchNorm), which holds
    for the PatchGAN critic of HealthyGAN and SAGAN. Returns `loss` (to minimise) and its parts.
    """
    fake = fake.detach()
    scores = critic(torch.cat([real, fake]))
    on_real, on_fake = scores[: real.shape[0]], scores[real.shape[0]:]
    wasserstein = critic_loss(on_real, on_fake)
    penalty = gradient_penalty(critic, real, fake)
    return {"loss": wasserstein + lambda_gp * penalty, "d_real": on_real.float().mean().detach(),
            "d_fake": on_fake.float().mean().detach(), "gp": penalty.detach()}
