"""ALAD's losses and scores as pure functions of tensors (alad/run.py `loss_functions` and `Testing/Scores`: the
code computes four scores at test, score_ch, score_l1, score_l2 and score_fm, and saves the results of each)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def bce(logits: torch.Tensor, target: float) -> torch.Tensor:
    """Element-wise sigmoid cross-entropy against a constant label, in float32."""
    logits = logits.float()
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, target), reduction="none")


def discriminator_loss(l_encoder: torch.Tensor, l_generator: torch.Tensor, x_real: torch.Tensor,
                       x_fake: torch.Tensor, z_real: torch.Tensor, z_fake: torch.Tensor) -> dict[str, torch.Tensor]:
    """dis_loss_xz + dis_loss_xx + dis_loss_zz: D_xz tells (x, E(x)) [1] from (G(z), z) [0]; D_xx (x, x) [1] from
    (x, G(E(x))) [0]; D_zz (z, z) [1] from (z, E(G(z))) [0]. Each term depends on its own discriminator only."""
    xz = bce(l_encoder, 1.0).mean() + bce(l_generator, 0.0).mean()
    xx = (bce(x_real, 1.0) + bce(x_fake, 0.0)).mean()
    zz = (bce(z_real, 1.0) + bce(z_fake, 0.0)).mean()
    return {"loss": xz + xx + zz, "d_xz": xz.detach(), "d_xx": xx.detach(), "d_zz": zz.detach()}


def generator_encoder_loss(l_encoder: torch.Tensor, l_generator: torch.Tensor, x_real: torch.Tensor,
                           x_fake: torch.Tensor, z_real: torch.Tensor, z_fake: torch.Tensor) -> dict[str, torch.Tensor]:
    """The code minimises loss_generator = gen_xz + cycle over G and loss_encoder = enc_xz + cycle over E, with
    gen_xz = BCE(D_xz(G(z), z), 1), enc_xz = BCE(D_xz(x, E(x)), 0), cycle = cost_x + cost_z (labels swapped).
    gen_xz does not depend on E nor enc_xz on G, so gen_xz + enc_xz + cycle has exactly the code's gradient for
    every parameter of G and of E: one loss for one optimiser over both."""
    gen_xz = bce(l_generator, 1.0).mean()
    enc_xz = bce(l_encoder, 0.0).mean()
    cost_x = (bce(x_real, 0.0) + bce(x_fake, 1.0)).mean()
    cost_z = (bce(z_real, 0.0) + bce(z_fake, 1.0)).mean()
    return {"loss": gen_xz + enc_xz + cost_x + cost_z, "gen_xz": gen_xz.detach(), "enc_xz": enc_xz.detach(),
            "cycle": (cost_x + cost_z).detach()}


def cross_entropy_score(logits_rec: torch.Tensor) -> torch.Tensor:
    """score_ch: the sigmoid cross-entropy of D_xx's logit on (x, G(E(x))) against the label 1 ("real" pair) per
    image, i.e. softplus(-logit): high where D_xx tells the reconstruction from x."""
    return bce(logits_rec, 1.0).view(-1)


def residual_score(x: torch.Tensor, rec: torch.Tensor, degree: int) -> torch.Tensor:
    """score_l1 (degree 1) / score_l2 (degree 2): ||x - G(E(x))||_degree over the flattened image, per image."""
    return torch.linalg.vector_norm((x.float() - rec.float()).flatten(1), ord=degree, dim=1)


def feature_matching_score(features_real: torch.Tensor, features_rec: torch.Tensor, degree: int = 1) -> torch.Tensor:
    """score_fm: ||f_xx(x, x) - f_xx(x, G(E(x)))||_degree per image (degree 1: the L1 norm, `--d 1`)."""
    diff = (features_real.float() - features_rec.float()).flatten(1)
    return torch.linalg.vector_norm(diff, ord=degree, dim=1)
