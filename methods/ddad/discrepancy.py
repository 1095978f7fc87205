"""DDAD's anomaly maps and scores from the two ensembles' outputs, as the authors' `test.py` (`evaluate`,
`evaluate_r`) and `trainer.py` (`refine_trainer`) compute them.

With mu_A, mu_B the pixelwise means of the UDM's and the NDM's K reconstructions:
    rec   = (x - mu_B)^2            (the NDM ensemble's reconstruction error)
    intra = std_k B_k(x)            (unbiased std over the NDM's K outputs)
    inter = |mu_A - mu_B|
With AE-U each is divided by the NDM's predicted variance v = mean_k exp(logvar_k) (rec by v, intra and inter by
sqrt(v)). An image's score is the mean of its map. The refined scores feed [inter, intra] (R_dual) or [intra]
(R_intra) to the ASR-Net; its map is P(anomaly) per pixel, its score that map's mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

from bench.methods.ddad.networks import Reconstruction

SCORES = ("rec", "intra", "inter", "r-dual", "r-intra")
REFINED = {"r-dual": ("inter", "intra"), "r-intra": ("intra",)}


class Discrepancies(NamedTuple):
    """The three (B, 1, H, W) maps, fp32."""

    rec: torch.Tensor
    intra: torch.Tensor
    inter: torch.Tensor


def discrepancies(x: torch.Tensor, udm: Sequence[Reconstruction], ndm: Sequence[Reconstruction]) -> Discrepancies:
    """rec, intra and inter maps of images `x` (B, 1, H, W) from the UDM's and the NDM's outputs on them."""
    out_a = torch.cat([r.mean.float() for r in udm], dim=1)
    out_b = torch.cat([r.mean.float() for r in ndm], dim=1)
    mu_a, mu_b = out_a.mean(dim=1, keepdim=True), out_b.mean(dim=1, keepdim=True)
    rec = (x.float() - mu_b) ** 2
    intra = out_b.std(dim=1, keepdim=True)
    inter = (mu_a - mu_b).abs()
    if ndm[0].logvar is not None:  # AE-U: in units of the NDM's predicted variance
        var = torch.cat([torch.exp(r.logvar.float()) for r in ndm], dim=1).mean(dim=1, keepdim=True)
        std = var.sqrt()
        rec, intra, inter = rec / var, intra / std, inter / std
    return Discrepancies(rec, intra, inter)


def refine_input(maps: Discrepancies, score: str) -> torch.Tensor:
    """The ASR-Net's input for `score` ("r-dual": [inter, intra]; "r-intra": [intra]), (B, 1 or 2, H, W)."""
    return torch.cat([getattr(maps, name) for name in REFINED[score]], dim=1)


def anomaly_probability(logits: torch.Tensor) -> torch.Tensor:
    """P(anomaly) per pixel from the ASR-Net's 2-class logits: (B, 1, H, W)."""
    return torch.softmax(logits.float(), dim=1)[:, 1:]


def image_scores(maps: torch.Tensor) -> torch.Tensor:
    """The mean of each image's map: (B,)."""
    return maps.flatten(1).mean(dim=1)
