"""The run's localisation step: a detector's anomaly maps of the test split scored against the data's ground truth
(bench.data.masks) with bench.metrics.localisation. The maps come from the test scoring pass
(`Detector.score_with_maps` over `localisation_rows`), not a second pass over the images. Returns the run record's
`localisation` entry (the metrics with their definitions, or why there are none) and the per-image pointing-game
hits, which the run step adds to its scores (column `pointing_hit`). Writes nothing."""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Any

import numpy as np

from bench.core.images import ImageSet
from bench.data.masks import GroundTruth
from bench.metrics.localisation import DEFINITIONS, FPR_LIMIT, bootstrap_mean_ci, pixel_metrics, pointing_hits

HIT_COLUMN = "pointing_hit"
NO_TRUTH, NO_MAPS, SCORED = "no ground truth", "no maps", "scored"


@dataclasses.dataclass(frozen=True)
class LocalisationResult:
    """The record entry, and the hit of each scored abnormal test image (None when nothing was scored)."""

    entry: dict[str, Any]
    hit_ids: np.ndarray | None = None
    hits: np.ndarray | None = None


def localisation_rows(test: ImageSet, truth: GroundTruth | None) -> np.ndarray | None:
    """The test rows the step scores (the normal images and the abnormal ones with a mask, in order), or None
    where it scores none (no ground truth, or no abnormal test image has a mask)."""
    if truth is None or not truth.available:
        return None
    has_mask = truth.has_mask(test.ids)
    abnormal = test.labels == 1
    if not (abnormal & has_mask).any():
        return None
    return np.flatnonzero((test.labels == 0) | (abnormal & has_mask))


def score_localisation(detector_name: str, maps: np.ndarray | None, test: ImageSet, truth: GroundTruth | None, *,
                       seed: int = 0) -> LocalisationResult:
    """Score `maps`, the detector's anomaly maps of the `localisation_rows(test, truth)` test images (from
    `Detector.score_with_maps`; None where the detector has none), against the masks."""
    if truth is None or not truth.available:
        return LocalisationResult({"status": NO_TRUTH, "reason": truth.reason if truth is not None else
                                   "no localisation ground truth: the prepared data carries none"})
    started = time.perf_counter()
    scored = localisation_rows(test, truth)
    if scored is None:
        return LocalisationResult({"status": NO_TRUTH,
                                   "reason": "no localisation ground truth: no abnormal test image has a mask"})
    if maps is None:
        return LocalisationResult({"status": NO_MAPS, "reason": f"{detector_name} returns no anomaly maps"})
    masks, has_mask = truth.lookup(test.ids)
    abnormal = test.labels == 1
    if len(maps) != len(scored):
        raise ValueError(f"{len(maps)} maps for the {len(scored)} test images the localisation step scores")
    maps = resize_maps(np.asarray(maps, dtype=np.float32), masks.shape[1:])
    scored_masks = masks[scored]
    with_mask = abnormal[scored]
    values: dict[str, Any] = pixel_metrics(maps, scored_masks)
    hits = pointing_hits(maps[with_mask], scored_masks[with_mask])
    values["hit_rate"] = float(hits.mean())
    ci = bootstrap_mean_ci(hits, seed=seed)
    without = Counter(truth.missing[i] for i in test.ids[abnormal & ~has_mask] if i in truth.missing)
    entry = {
        "status": SCORED, "metrics": values, "ci95": {"hit_rate": list(ci)} if ci else {},
        "definitions": dict(DEFINITIONS), "fpr_limit": FPR_LIMIT,
        "ground_truth": {"rule": truth.rule, "source": truth.source, "truth_id": truth.truth_id},
        "images": {"normal": int((test.labels == 0).sum()), "abnormal_with_mask": int(with_mask.sum()),
                   "abnormal_without_mask": int((abnormal & ~has_mask).sum())},
        "without_mask": dict(without), "map_size": list(maps.shape[1:]),
        "seconds": time.perf_counter() - started,
    }
    return LocalisationResult(entry, test.ids[scored][with_mask], hits)


def resize_maps(maps: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """`maps` (N, h, w) at (H, W) = `size`, linearly interpolated on pixel centres (unchanged when equal)."""
    if maps.shape[1:] == tuple(size):
        return maps
    from scipy import ndimage

    zoom = (1.0, size[0] / maps.shape[1], size[1] / maps.shape[2])
    return ndimage.zoom(maps, zoom, order=1, grid_mode=True, mode="nearest").astype(np.float32, copy=False)
