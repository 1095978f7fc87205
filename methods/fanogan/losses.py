"""f-AnoGAN's encoder loss and anomaly score as pure functions of tensors (z_encoding_izif.py,
anomaly_detection.py). Stage 1's WGAN-GP losses are the shared ones in bench.methods._gan.wgan."""

from __future__ import annotations

import torch


def per_image_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """mean over every non-batch axis of (a - b)^2, one value per image, in float32."""
    return (a.float() - b.float()).pow(2).flatten(1).mean(dim=1)


def izif_loss(x: torch.Tensor, x_rec: torch.Tensor, f_x: torch.Tensor, f_rec: torch.Tensor,
              kappa: float = 1.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """`MSE(x, G(E(x))) + kappa * MSE(f(x), f(G(E(x))))` over the batch (the official loss_type 'MSE'); returns
    (total, image term, feature term)."""
    image = (x.float() - x_rec.float()).pow(2).mean()
    feature = (f_x.float() - f_rec.float()).pow(2).mean()
    return image + kappa * feature, image, feature


def anomaly_score(x: torch.Tensor, x_rec: torch.Tensor, f_x: torch.Tensor, f_rec: torch.Tensor,
                  kappa: float = 1.0) -> torch.Tensor:
    """Per image: mean (x - G(E(x)))^2 over pixels + kappa * mean (f(x) - f(G(E(x))))^2 over features
    (anomaly_detection.py with dual_iloss=True, loss_type 'MSE')."""
    return per_image_mse(x, x_rec) + kappa * per_image_mse(f_x, f_rec)
