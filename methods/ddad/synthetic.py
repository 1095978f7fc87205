"""The ASR-Net's training data: synthetic patch anomalies made from known normals, as the authors'
`SelfAnomalyDataset.generate_anomaly` (anomaly_data.py) makes them, drawn on the device from one generator.

With probability `probability` an image gets one square patch: centre uniform in the central `core` fraction of
the image (integer bounds truncated as NumPy's randint truncates the authors' float bounds: [6, 57) at 64 px),
half-width uniform in [round(0.05 W), round(0.2 W)) (3..12 at 64 px), clipped to the image; inside it the image is
blended with another normal image of the training set, (1 - alpha) x + alpha x_src, alpha ~ U(0, 1). The whole
patch is labelled anomalous (alpha > 0); an image without a patch has an all-normal mask.
"""

from __future__ import annotations

import torch

CORE = 0.8  # the central fraction of each side where patch centres fall
MIN_HALF_WIDTH, MAX_HALF_WIDTH = 0.05, 0.2  # of the image width


def patch_bounds(height: int, width: int, core: float = CORE) -> tuple[tuple[int, int], tuple[int, int], int, int]:
    """((low, high) of the centre row, (low, high) of the centre column, lowest, highest + 1 half-width), as
    the authors' float bounds become NumPy's integer ones."""
    rows = (int((1 - core) * height / 2), int((1 - core) * height / 2 + core * height))
    cols = (int((1 - core) * width / 2), int((1 - core) * width / 2 + core * width))
    # Python's round, like np.round, rounds halves to even
    return rows, cols, round(MIN_HALF_WIDTH * width), round(MAX_HALF_WIDTH * width)


def other_indices(own: torch.Tensor, n: int, generator: torch.Generator) -> torch.Tensor:
    """For each index in `own`, an index of range(n) other than it, uniformly (itself when n == 1)."""
    if n == 1:
        return own.clone()
    offset = torch.randint(1, n, own.shape, generator=generator, device=own.device)
    return (own + offset) % n


def patch_anomalies(images: torch.Tensor, sources: torch.Tensor, generator: torch.Generator, *,
                    probability: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """(images with patches blended in from `sources` (same shape), (B, H, W) int64 masks: 1 inside a patch)."""
    b, _, h, w = images.shape
    device = images.device
    rows, cols, low_w, high_w = patch_bounds(h, w)
    anomalous = torch.rand(b, generator=generator, device=device) < probability
    centre_r = torch.randint(rows[0], rows[1], (b,), generator=generator, device=device)
    centre_c = torch.randint(cols[0], cols[1], (b,), generator=generator, device=device)
    half = torch.randint(low_w, max(high_w, low_w + 1), (b,), generator=generator, device=device)
    alpha = torch.rand(b, generator=generator, device=device)
    r = torch.arange(h, device=device).view(1, h, 1)
    c = torch.arange(w, device=device).view(1, 1, w)
    inside = ((r >= (centre_r - half).clamp(0, h).view(b, 1, 1)) & (r < (centre_r + half).clamp(0, h).view(b, 1, 1))
              & (c >= (centre_c - half).clamp(0, w).view(b, 1, 1)) & (c < (centre_c + half).clamp(0, w).view(b, 1, 1)))
    inside &= anomalous.view(b, 1, 1)
    blend = inside.to(images.dtype) * alpha.to(images.dtype).view(b, 1, 1)
    blend = blend.unsqueeze(1)
    mixed = (1 - blend) * images + blend * sources
    return mixed, (blend[:, 0] > 0).long()
