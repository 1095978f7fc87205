"""Localisation metrics: how well anomaly maps point at the lesions of a ground-truth mask.

Inputs are maps (N, H, W), higher = more anomalous, and masks (N, H, W) bool of the same images: the abnormal
images that have ground truth, and the normal images with all-negative masks. Every pixel of every image is pooled:

- pixel AUROC and pixel AP: the ROC area (trapezoids) and average precision (sum over thresholds of the recall
  gained times the precision there, as scikit-learn) of the map values as a pixel classifier;
- AUPRO: the area under the per-region overlap curve up to a false-positive rate of 0.3, divided by 0.3 (Bergmann
  et al., IJCV 2021). Regions are the 8-connected components of the masks; at each threshold the overlap is the
  mean over all regions of the fraction of the region above it, the FPR is over all negative pixels (normals'
  included). The curve is cut at the limit by linear interpolation and normalised by the limit itself, never by
  its last point below the limit (which gave values above 1 in anomalib <= 2.2);
- pointing-game hit rate: per abnormal image, whether the map's maximum lies inside the mask (several tied maxima:
  the fraction of them inside), averaged; with a percentile bootstrap CI over images.
Ties among map values count as one threshold everywhere. Pure numpy/scipy: one sort of the scores serves the
three curves, swept in blocks (about 5 bytes per pooled pixel beside the maps).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FPR_LIMIT = 0.3
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
DEFINITIONS = {
    "pixel_auroc": "ROC AUC of the map values as a pixel classifier, pooled over the pixels of the normal test "
                   "images (all negative) and of the abnormal test images with ground truth (mask = positive)",
    "pixel_ap": "average precision of the same pooled pixels (sum over thresholds of recall gained x precision)",
    "aupro": f"area under the per-region overlap curve for global pixel FPR in [0, {FPR_LIMIT}], divided by "
             f"{FPR_LIMIT}; regions are the 8-connected components of the masks, overlap averaged over regions",
    "hit_rate": "pointing game: fraction of abnormal test images with ground truth whose map maximum lies inside "
                "the mask (tied maxima count by the fraction inside); 95% CI: percentile bootstrap over images",
}


def _check(maps: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    maps, masks = np.asarray(maps), np.asarray(masks, dtype=bool)
    if maps.ndim != 3 or maps.shape != masks.shape:
        raise ValueError(f"maps and masks must both be (N, H, W) of one shape, got {maps.shape} and {masks.shape}")
    if not np.isfinite(maps).all():
        raise ValueError(f"{int((~np.isfinite(maps)).sum())} anomaly-map values are not finite")
    return maps, masks


BLOCK_PIXELS = 1 << 18  # pixels of the sorted scores turned into curve points at a time (bounds temporaries)


def _positive_weights(masks: np.ndarray) -> tuple[np.ndarray, int]:
    """Per positive pixel, in `masks.ravel()` order: 1 / (size of its 8-connected mask region); and the number of
    regions."""
    parts, n_regions = [], 0
    for mask in masks:
        labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
        if count:
            sizes = np.bincount(labels.ravel())
            parts.append(1.0 / sizes[labels[mask]])
            n_regions += count
    return (np.concatenate(parts) if parts else np.zeros(0)), n_regions


class _Curves:
    """The three curves pooled over every pixel, swept once from the highest threshold down and integrated as they
    go: ROC (trapezoids), average precision (recall gained x precision) and the per-region overlap against the FPR
    up to `fpr_limit`. Each distinct map value is one threshold; a threshold's point counts the pixels at or above
    it. Memory: one sorted float32 copy of the scores plus the positive pixels' scores and weights, never a
    per-pixel index or float64 array (47 bytes per pixel before; a 20,000-image test set at 128 px needed 15 GB)."""

    def __init__(self, positives: int, negatives: int, n_regions: int, fpr_limit: float) -> None:
        self.positives, self.negatives, self.n_regions, self.fpr_limit = positives, negatives, n_regions, fpr_limit
        self.tp = self.fp = self.overlap = 0.0  # the last point (the curves start at 0, 0)
        self.roc = self.ap = self.pro = 0.0
        self.pro_done = False

    def add(self, tp: np.ndarray, fp: np.ndarray, overlap: np.ndarray) -> None:
        """Points at the next distinct thresholds (descending): cumulative counts and summed overlap."""
        prev_tp, prev_fp = np.append(self.tp, tp[:-1]), np.append(self.fp, fp[:-1])
        if self.positives and self.negatives:
            self.roc += float(np.sum((fp - prev_fp) * (tp + prev_tp))) / (2.0 * self.positives * self.negatives)
        if self.positives:
            self.ap += float(np.sum((tp - prev_tp) / self.positives * tp / np.maximum(tp + fp, 1)))
        if self.negatives and self.n_regions and not self.pro_done:
            self._add_pro(np.append(self.fp, fp) / self.negatives,
                          np.minimum(np.append(self.overlap, overlap) / self.n_regions, 1.0))
        self.tp, self.fp, self.overlap = float(tp[-1]), float(fp[-1]), float(overlap[-1])

    def _add_pro(self, fpr: np.ndarray, pro: np.ndarray) -> None:
        limit = self.fpr_limit
        last = int(np.searchsorted(fpr, limit, side="right")) - 1  # the last point at or below the limit
        x, y = fpr[: last + 1], pro[: last + 1]
        if last + 1 < len(fpr):  # the curve crosses the limit in this block: cut it there by interpolation
            self.pro_done = True
            if x[-1] < limit:
                share = (limit - fpr[last]) / (fpr[last + 1] - fpr[last])
                x, y = np.append(x, limit), np.append(y, pro[last] + share * (pro[last + 1] - pro[last]))
        self.pro += float(np.trapezoid(y, x))

    def metrics(self) -> dict[str, float | None]:
        both = self.positives > 0 and self.negatives > 0
        return {"pixel_auroc": self.roc if both else None,
                "pixel_ap": self.ap if self.positives else None,
                "aupro": self.pro / self.fpr_limit if self.negatives and self.n_regions else None}


def _sweep(maps: np.ndarray, masks: np.ndarray, fpr_limit: float) -> _Curves:
    """Sort the scores once and feed the curves their points, a block of sorted pixels at a time."""
    scores, flat_masks = maps.ravel(), masks.ravel()
    weights, n_regions = _positive_weights(masks)
    positive_scores = scores[flat_masks]
    order = np.argsort(positive_scores, kind="stable")
    positive_sorted = positive_scores[order]  # ascending
    # weight of the positives at or above each sorted position (suffix sums; one more 0 for "none")
    weight_above = np.append(np.cumsum(weights[order][::-1])[::-1], 0.0)
    n_pos = len(positive_sorted)
    curves = _Curves(n_pos, scores.size - n_pos, n_regions, fpr_limit)
    descending = np.sort(scores)[::-1]
    total = descending.size
    for start in range(0, total, BLOCK_PIXELS):
        stop = min(start + BLOCK_PIXELS, total)
        block = descending[start:stop]
        following = descending[start + 1 : stop + 1]
        is_end = np.ones(len(block), dtype=bool)  # the last pixel of each tie group is its threshold's point
        is_end[: len(following)] = block[: len(following)] != following
        ends = np.flatnonzero(is_end)
        if not len(ends):  # one tie group spans the whole block: its point comes in a later block
            continue
        thresholds = block[ends]
        at_or_above = (start + ends + 1).astype(np.float64)
        below = np.searchsorted(positive_sorted, thresholds, side="left")
        tp = (n_pos - below).astype(np.float64)
        curves.add(tp, at_or_above - tp, weight_above[below])
    return curves


def pixel_metrics(maps: np.ndarray, masks: np.ndarray, *, fpr_limit: float = FPR_LIMIT) -> dict[str, float | None]:
    """pixel_auroc, pixel_ap and aupro of `maps` against `masks` (None where undefined: no positive or no negative
    pixel)."""
    maps, masks = _check(maps, masks)
    return _sweep(maps, masks, fpr_limit).metrics()


def aupro(maps: np.ndarray, masks: np.ndarray, *, fpr_limit: float = FPR_LIMIT) -> float | None:
    """The normalised area under the per-region overlap curve up to `fpr_limit` (see the module docstring)."""
    return pixel_metrics(maps, masks, fpr_limit=fpr_limit)["aupro"]


def pointing_hits(maps: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Per image: the fraction of the map's maximal pixels that lie inside the mask (1 or 0 for one maximum)."""
    maps, masks = _check(maps, masks)
    flat_maps, flat_masks = maps.reshape(len(maps), -1), masks.reshape(len(masks), -1)
    at_max = flat_maps == flat_maps.max(axis=1, keepdims=True)
    return (at_max & flat_masks).sum(axis=1) / at_max.sum(axis=1)


def bootstrap_mean_ci(values: np.ndarray, *, n_resamples: int = 1000, level: float = 0.95,
                      seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the mean of `values` (resampling them with replacement); None when empty."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return None
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))
