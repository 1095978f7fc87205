"""Sample grids for looking at what a GAN does: one row per image, one column per named panel.

The grid is composed as one RGB image (Pillow) rather than one matplotlib axes per cell: a GAN writes it at every
checkpoint, and 40 axes cost one to two seconds of the training process each time (measured on a CPU), time the
GPU waits; composing the pixels costs milliseconds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from bench.core.files import atomic_write

MIN_CELL = 96  # cells are upscaled (nearest) to at least this many pixels a side, so small images stay readable
GAP = 2
TEXT_ROW = 14  # pixels of a line of Pillow's default font
LABEL_WIDTH = 72


def _as_gray(panel: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) -> (N, H, W) float32 (channels averaged)."""
    array = panel.detach().float().cpu().numpy() if isinstance(panel, torch.Tensor) else np.asarray(panel)
    array = array.astype(np.float32)
    return array.mean(axis=1) if array.ndim == 4 else array


def _colour(images: np.ndarray, low: float, high: float, colormap: str) -> np.ndarray:
    """(N, H, W) values -> (N, H, W, 3) uint8 through `colormap` over [low, high] (outside: clipped)."""
    from matplotlib import colormaps

    scaled = np.clip((images - low) / (high - low if high > low else 1.0), 0.0, 1.0)
    return (colormaps[colormap](scaled)[..., :3] * 255).round().astype(np.uint8)


def save_sample_grid(path: Path, panels: Mapping[str, torch.Tensor | np.ndarray],
                     ranges: Mapping[str, tuple[float, float]] | None = None, *,
                     colormaps: Mapping[str, str] | None = None, row_labels: list[str] | None = None,
                     title: str | None = None) -> Path:
    """Write a PNG grid: columns are `panels` (name -> images, same N), each column shown over its value range from
    `ranges` (default: the column's min and max) with its colormap from `colormaps` (default gray); column names
    above, `row_labels` on the left, `title` on top. Written atomically; returns `path`."""
    from PIL import Image, ImageDraw

    columns = {name: _as_gray(images) for name, images in panels.items()}
    n_rows = len(next(iter(columns.values())))
    height, width = next(iter(columns.values())).shape[1:]
    cell = max(1, -(-MIN_CELL // max(height, width)))  # integer upscale factor
    cell_h, cell_w = height * cell, width * cell
    left = LABEL_WIDTH if row_labels is not None else 0
    top = TEXT_ROW * (2 if title else 1) + GAP
    canvas = np.full((top + n_rows * (cell_h + GAP), left + len(columns) * (cell_w + GAP), 3), 255, np.uint8)
    for col, (name, images) in enumerate(columns.items()):
        low, high = (ranges or {}).get(name, (float(images.min()), float(images.max())))
        rgb = _colour(images, low, high, (colormaps or {}).get(name, "gray"))
        rgb = rgb.repeat(cell, axis=1).repeat(cell, axis=2)
        x = left + col * (cell_w + GAP)
        for row in range(n_rows):
            y = top + row * (cell_h + GAP)
            canvas[y:y + cell_h, x:x + cell_w] = rgb[row]
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    if title:
        draw.text((GAP, 1), title, fill=(0, 0, 0))
    for col, name in enumerate(columns):
        draw.text((left + col * (cell_w + GAP) + GAP, top - TEXT_ROW), name[: max(4, cell_w // 6)], fill=(0, 0, 0))
    for row, label in enumerate(row_labels or []):
        draw.text((GAP, top + row * (cell_h + GAP) + cell_h // 2 - TEXT_ROW // 2), label[:11], fill=(0, 0, 0))
    path = Path(path)
    atomic_write(path, lambda temp: image.save(temp, format="PNG"))
    return path
