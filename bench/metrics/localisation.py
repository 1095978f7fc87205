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
Ties among map values count as one threshold everywhere. Pure numpy/scipy: one sort serves the three curves.
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


def _region_weights(masks: np.ndarray) -> tuple[np.ndarray, int]:
    """Per pixel: 1 / (size of its 8-connected mask region), 0 off the masks; and the number of regions."""
    weights = np.zeros(masks.shape, dtype=np.float64)
    n_regions = 0
    for index, mask in enumerate(masks):
        labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
        if count:
            sizes = np.bincount(labels.ravel())
            weights[index][mask] = 1.0 / sizes[labels[mask]]
            n_regions += count
    return weights, n_regions


def _sorted_curves(maps: np.ndarray, masks: np.ndarray) -> dict[str, np.ndarray]:
    """True positives, false positives and the summed region overlap at each distinct threshold (descending),
    each starting from 0 (nothing above the highest threshold)."""
    scores = maps.ravel()
    order = np.argsort(scores, kind="stable")[::-1]
    ranked = scores[order]
    group_end = np.append(ranked[1:] != ranked[:-1], True)
    positive = masks.ravel()[order]
    weights, n_regions = _region_weights(masks)
    return {
        "tp": np.append(0, np.cumsum(positive)[group_end]).astype(np.float64),
        "fp": np.append(0, np.cumsum(~positive)[group_end]).astype(np.float64),
        "overlap": np.append(0.0, np.cumsum(weights.ravel()[order])[group_end]),
        "n_regions": np.array(n_regions),
    }


def _auroc(curves: dict[str, np.ndarray]) -> float | None:
    positives, negatives = curves["tp"][-1], curves["fp"][-1]
    if positives == 0 or negatives == 0:
        return None
    return float(np.trapezoid(curves["tp"] / positives, curves["fp"] / negatives))


def _average_precision(curves: dict[str, np.ndarray]) -> float | None:
    tp, fp = curves["tp"][1:], curves["fp"][1:]
    if curves["tp"][-1] == 0:
        return None
    recall_gain = np.diff(np.append(0.0, tp / tp[-1]))
    return float(np.sum(recall_gain * tp / (tp + fp)))


def _aupro(curves: dict[str, np.ndarray], fpr_limit: float) -> float | None:
    negatives, n_regions = curves["fp"][-1], int(curves["n_regions"])
    if negatives == 0 or n_regions == 0:
        return None
    fpr = curves["fp"] / negatives
    pro = np.minimum(curves["overlap"] / n_regions, 1.0)  # rounding only: the sum of weights is n_regions
    last = int(np.searchsorted(fpr, fpr_limit, side="right")) - 1  # the last point at or below the limit
    x, y = fpr[: last + 1], pro[: last + 1]
    if x[-1] < fpr_limit:  # the curve always reaches FPR 1, so a next point exists
        share = (fpr_limit - fpr[last]) / (fpr[last + 1] - fpr[last])
        x = np.append(x, fpr_limit)
        y = np.append(y, pro[last] + share * (pro[last + 1] - pro[last]))
    return float(np.trapezoid(y, x) / fpr_limit)


def pixel_metrics(maps: np.ndarray, masks: np.ndarray, *, fpr_limit: float = FPR_LIMIT) -> dict[str, float | None]:
    """pixel_auroc, pixel_ap and aupro of `maps` against `masks` (None where undefined: no positive or no negative
    pixel)."""
    maps, masks = _check(maps, masks)
    curves = _sorted_curves(maps, masks)
    return {"pixel_auroc": _auroc(curves), "pixel_ap": _average_precision(curves),
            "aupro": _aupro(curves, fpr_limit)}


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
