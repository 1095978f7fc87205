"""FPI-style pseudo-anomalies, made on the device for a whole batch at once (no per-image Python):
a square of another normal image is blended into each normal image with a random opacity alpha.

    x_p = (1 - alpha * box) * x + alpha * box * src

Box centre uniform in [0.2 * size, 0.8 * size) per axis, half-width uniform in [0.05 * size, 0.2 * size), both
rounded down to whole pixels (3..12 px half-widths at 64 px); the box covers rows and columns [c - w, c + w).

The source `src` is another image of the whole normal training set, drawn uniformly (as the authors' code draws
it from the normal set): `other_indices` picks it, the trainer passes the images as `sources`. Without `sources`,
each image takes another image of its own batch (for figures and tests).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

CENTRE_RANGE = (0.2, 0.8)
HALF_WIDTH_RANGE = (0.05, 0.2)


@dataclass
class PseudoAnomalies:
    """A batch of pseudo-anomalous images with how each was made (per image: centre row/col, half-width,
    alpha, the index of the source image in the batch, or None when the sources were given) and the
    (B, 1, H, W) 0/1 box masks."""

    images: torch.Tensor
    centres: torch.Tensor
    half_widths: torch.Tensor
    alphas: torch.Tensor
    sources: torch.Tensor | None
    boxes: torch.Tensor


def _uniform_int(low: float, high: float, shape: tuple[int, ...], device: torch.device,
                 generator: torch.Generator | None) -> torch.Tensor:
    """floor(U(low, high)) as int64."""
    u = torch.rand(shape, device=device, generator=generator)
    return torch.floor(low + (high - low) * u).long()


def derangement(n: int, device: torch.device, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random permutation of range(n) with no fixed point (for n > 1): each image takes another as source."""
    order = torch.randperm(n, device=device, generator=generator)
    sources = torch.empty_like(order)
    sources[order] = order.roll(-1)
    return sources


def other_indices(own: torch.Tensor, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """For each index in `own` (int64, on the set's device), an index of range(n) drawn uniformly among the others;
    where `own` is negative (an image from outside the set), among all n. With n == 1 the only image is its own
    source (the box then changes nothing)."""
    u = torch.rand(own.shape, device=own.device, generator=generator)
    other = (own + 1 + torch.floor(u * (n - 1)).long()) % n
    anywhere = torch.floor(u * n).long()
    return torch.where(own >= 0, other, anywhere)


def make_pseudo_anomalies(normals: torch.Tensor, generator: torch.Generator | None = None,
                          sources: torch.Tensor | None = None) -> PseudoAnomalies:
    """Blend a random square of `sources` (same shape as `normals`, image i into image i) into each image of
    `normals` (B, C, H, W); without `sources`, of another image of the batch."""
    b, _, h, w = normals.shape
    device = normals.device
    size = min(h, w)
    centres = torch.stack([_uniform_int(CENTRE_RANGE[0] * h, CENTRE_RANGE[1] * h, (b,), device, generator),
                           _uniform_int(CENTRE_RANGE[0] * w, CENTRE_RANGE[1] * w, (b,), device, generator)], dim=1)
    half_widths = _uniform_int(HALF_WIDTH_RANGE[0] * size, HALF_WIDTH_RANGE[1] * size, (b,), device, generator)
    alphas = torch.rand(b, device=device, generator=generator)
    in_batch = None
    if sources is None:
        in_batch = derangement(b, device, generator)
        sources = normals[in_batch]
    elif sources.shape != normals.shape:
        raise ValueError(f"sources {tuple(sources.shape)} do not match the images {tuple(normals.shape)}")
    low = centres - half_widths[:, None]
    high = centres + half_widths[:, None]
    rows = torch.arange(h, device=device)[None]
    cols = torch.arange(w, device=device)[None]
    in_rows = (rows >= low[:, :1]) & (rows < high[:, :1])
    in_cols = (cols >= low[:, 1:]) & (cols < high[:, 1:])
    boxes = (in_rows[:, :, None] & in_cols[:, None, :]).unsqueeze(1).to(normals.dtype)
    weight = alphas.to(normals.dtype)[:, None, None, None] * boxes
    images = (1 - weight) * normals + weight * sources.to(normals.dtype)
    return PseudoAnomalies(images, centres, half_widths, alphas, in_batch, boxes)
