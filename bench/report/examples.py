"""The qualitative grid of the papers' figures: rows are test images (a few normal, a few abnormal), columns are
the input, then per method its restored/healthy image (where the run saved one) and its anomaly map.

Reads each run's sample_maps.npz (ids, labels, images (N,C,H,W) uint8, maps (N,H,W), optional `restored`
(N,C,H,W), optional `masks` (N,H,W) bool with `has_mask` (N,): the localisation ground truth). Maps share one colour
scale per method (1st-99th percentile of the shown maps), so a normal image's map can be compared with an abnormal
one's. Where a run saved ground truth, the lesion outlines (box or mask edges) are drawn over the input and the maps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bench.report.plots import PAGE_WIDTH_IN, wrap

SAMPLE_FILE = "sample_maps.npz"
MAP_COLOURMAP = "inferno"  # perceptually uniform, readable by colour-blind readers and in greyscale
OUTLINE_COLOUR = "#00e5ff"  # cyan: stands out on inferno and on greyscale radiographs


@dataclasses.dataclass(frozen=True)
class Samples:
    """One method's saved examples, keyed by image id."""

    label: str
    ids: np.ndarray
    labels: np.ndarray
    images: np.ndarray
    maps: np.ndarray
    restored: np.ndarray | None = None
    masks: np.ndarray | None = None  # (N, H, W) bool lesion masks, where the run's data had ground truth
    has_mask: np.ndarray | None = None  # (N,) bool

    def mask(self, position: int) -> np.ndarray | None:
        """The lesion mask of row `position`, or None when it has none."""
        if self.masks is None or self.has_mask is None or not self.has_mask[position]:
            return None
        return self.masks[position]

    def index(self, image_id: str) -> int | None:
        """Row of `image_id`, or None when this run did not save it."""
        found = np.flatnonzero(self.ids == image_id)
        return int(found[0]) if len(found) else None


def load_samples(label: str, folder: str | Path) -> Samples | None:
    """The examples a run saved, or None when it saved none (methods without anomaly maps)."""
    path = Path(folder) / SAMPLE_FILE
    if not path.is_file():
        return None
    with np.load(path, allow_pickle=False) as data:
        optional = {name: data[name] if name in data.files else None for name in ("restored", "masks", "has_mask")}
        return Samples(label, data["ids"].astype(str), data["labels"], data["images"], data["maps"], **optional)


def pick_ids(samples: Sequence[Samples], per_class: int) -> list[tuple[str, int]]:
    """(id, label) of the first `per_class` normal then abnormal images the first method saved."""
    first = samples[0]
    picked = []
    for label in (0, 1):
        rows = np.flatnonzero(first.labels == label)[:per_class]
        picked += [(str(first.ids[r]), label) for r in rows]
    return picked


def _show_image(ax, image: np.ndarray) -> None:
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    else:
        ax.imshow(np.transpose(image, (1, 2, 0)), interpolation="nearest")


def _outline(ax, mask: np.ndarray | None) -> None:
    """The edges of `mask` (a box's or a lesion's outline) over what `ax` shows."""
    if mask is not None and mask.any():
        ax.contour(mask.astype(np.float32), levels=[0.5], colors=OUTLINE_COLOUR, linewidths=0.6)


def _columns(samples: Sequence[Samples]) -> list[tuple[str, Samples | None, str]]:
    columns: list[tuple[str, Samples | None, str]] = [("Input", None, "input")]
    for method in samples:
        if method.restored is not None:
            columns.append((f"{wrap(method.label, 16)}\nrestored", method, "restored"))
        columns.append((f"{wrap(method.label, 16)}\nmap", method, "map"))
    return columns


def examples_figure(samples: Sequence[Samples], per_class: int = 3) -> Figure:
    """The grid: one row per picked image, one column for the input and per method (restored,) map."""
    picked = pick_ids(samples, per_class)
    columns = _columns(samples)
    scale = {m.label: tuple(np.percentile(m.maps, [1, 99])) for m in samples}
    cell = min(0.8, PAGE_WIDTH_IN / len(columns))
    figure = Figure(figsize=(cell * len(columns) + 0.3, cell * len(picked) + 0.45), layout="constrained")
    axes = figure.subplots(len(picked), len(columns), squeeze=False)
    first = samples[0]
    for row, (image_id, label) in enumerate(picked):
        for col, (title, method, kind) in enumerate(columns):
            ax = axes[row, col]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.spines[:].set_visible(False)
            source = first if method is None else method
            position = source.index(image_id)
            if position is None:
                ax.text(0.5, 0.5, "n/a", ha="center", va="center", fontsize=6, transform=ax.transAxes)
            elif kind == "input":
                _show_image(ax, source.images[position])
                _outline(ax, source.mask(position))
            elif kind == "restored":
                _show_image(ax, source.restored[position])
            else:
                low, high = scale[source.label]
                ax.imshow(source.maps[position], cmap=MAP_COLOURMAP, vmin=low, vmax=max(high, low + 1e-12),
                          interpolation="nearest")
                _outline(ax, source.mask(position))
            if row == 0:
                ax.set_title(title, fontsize=6)
            if col == 0:
                ax.set_ylabel("abnormal" if label else "normal", fontsize=6)
    return figure
