"""Sample grids for looking at what a GAN does: one row per image, one column per named panel."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from bench.core.files import atomic_write


def _as_gray(panel: torch.Tensor | np.ndarray) -> np.ndarray:
    """(N, C, H, W) or (N, H, W) -> (N, H, W) float32 (channels averaged)."""
    array = panel.detach().float().cpu().numpy() if isinstance(panel, torch.Tensor) else np.asarray(panel)
    array = array.astype(np.float32)
    return array.mean(axis=1) if array.ndim == 4 else array


def save_sample_grid(path: Path, panels: Mapping[str, torch.Tensor | np.ndarray],
                     ranges: Mapping[str, tuple[float, float]] | None = None, *,
                     colormaps: Mapping[str, str] | None = None, row_labels: list[str] | None = None,
                     title: str | None = None) -> Path:
    """Write a PNG grid: columns are `panels` (name -> images, same N), shown in gray with each column's
    value range from `ranges` (default: the column's min and max) and colormap from `colormaps` (default
    gray). Written atomically; returns `path`."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    columns = {name: _as_gray(images) for name, images in panels.items()}
    n_rows = len(next(iter(columns.values())))
    ranges = dict(ranges or {})
    size = (1.6 * len(columns), 1.6 * n_rows)
    figure, axes = plt.subplots(n_rows, len(columns), figsize=size, squeeze=False)
    for col, (name, images) in enumerate(columns.items()):
        low, high = ranges.get(name, (float(images.min()), float(images.max())))
        for row in range(n_rows):
            axis = axes[row][col]
            axis.imshow(images[row], cmap=(colormaps or {}).get(name, "gray"), vmin=low, vmax=high,
                        interpolation="nearest")
            axis.set_xticks([])
            axis.set_yticks([])
            if row == 0:
                axis.set_title(name, fontsize=8)
            if col == 0 and row_labels is not None:
                axis.set_ylabel(row_labels[row], fontsize=7)
    if title:
        figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    path = Path(path)
    atomic_write(path, lambda temp: figure.savefig(temp, format="png", dpi=100))
    plt.close(figure)
    return path
