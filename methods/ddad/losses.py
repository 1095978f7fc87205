"""DDAD's training losses, as the authors' `trainer.py` and `models/losses.py` compute them.

AE: mean (x - x_hat)^2. AE-U: mean(exp(-logvar) (x - mu)^2) + mean(logvar). MemAE: mean (x - x_hat)^2 plus
`entropy_weight` x the mean entropy of the memory attention. ASR-Net: the focal loss (gamma 2, no class weights,
label smoothing 1e-5) on the softmax of its logits, exactly as the authors' `FocalLoss` (adapted from
Hsuxu/Loss_ToolBox-PyTorch) evaluates it.
"""

from __future__ import annotations

import torch

from bench.methods.ddad.networks import Reconstruction

FOCAL_GAMMA = 2.0
FOCAL_SMOOTH = 1e-5
ENTROPY_EPS = 1e-12


def attention_entropy(attention: torch.Tensor, eps: float = ENTROPY_EPS) -> torch.Tensor:
    """Mean over images of -sum_m a_m log(a_m + eps) (MemAE's sparsity term)."""
    return -(attention * torch.log(attention + eps)).sum(dim=1).mean()


def reconstruction_loss(backbone: str, x: torch.Tensor, out: Reconstruction,
                        entropy_weight: float = 2e-4) -> dict[str, torch.Tensor]:
    """{"loss": what the optimiser minimises, "rec": mean squared error, and AE-U's "logvar" / MemAE's
    "entropy" term} for a batch `x` and the backbone's output."""
    x = x.float()
    rec_err = (out.mean.float() - x) ** 2
    if backbone == "ae":
        loss = rec_err.mean()
        return {"loss": loss, "rec": loss.detach()}
    if backbone == "ae-u":
        logvar = out.logvar.float()
        mean_logvar = logvar.mean()
        return {"loss": (torch.exp(-logvar) * rec_err).mean() + mean_logvar, "rec": rec_err.mean().detach(),
                "logvar": mean_logvar.detach()}
    if backbone == "memae":
        entropy = attention_entropy(out.attention.float())
        return {"loss": rec_err.mean() + entropy_weight * entropy, "rec": rec_err.mean().detach(),
                "entropy": entropy.detach()}
    raise ValueError(f"unknown DDAD backbone {backbone!r}")


def focal_loss(probabilities: torch.Tensor, target: torch.Tensor, gamma: float = FOCAL_GAMMA,
               smooth: float = FOCAL_SMOOTH) -> torch.Tensor:
    """The authors' focal loss of class `probabilities` (B, C, H, W; a softmax) against integer `target`
    (B, H, W): one-hot clamped to [smooth / (C - 1), 1 - smooth], p_t = sum(one_hot * p) + smooth,
    mean of -(1 - p_t)^gamma log p_t over pixels."""
    classes = probabilities.shape[1]
    p = probabilities.float().movedim(1, -1).reshape(-1, classes)
    one_hot = torch.nn.functional.one_hot(target.reshape(-1).long(), classes).to(p.dtype)
    one_hot = one_hot.clamp(smooth / (classes - 1), 1.0 - smooth)
    pt = (one_hot * p).sum(dim=1) + smooth
    return (-(1 - pt) ** gamma * pt.log()).mean()
