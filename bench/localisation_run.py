"""The runner's localisation step: a detector's anomaly maps of the test split scored against the data's ground
truth (bench.data.masks) with bench.localisation. Adds the per-image pointing-game hit to scores.parquet (column
`pointing_hit`, empty for images not scored) and the masks of the saved examples to sample_maps.npz, and returns
the run record's `localisation` entry: the metrics with their definitions, or why there are none."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.data.masks import GroundTruth
from bench.detector import Detector, ImageSet
from bench.localisation import DEFINITIONS, FPR_LIMIT, bootstrap_mean_ci, pixel_metrics, pointing_hits
from bench.store import SCORES_FILE, atomic_write, atomic_write_parquet

HIT_COLUMN = "pointing_hit"
SAMPLE_FILE = "sample_maps.npz"
NO_TRUTH, NO_MAPS, SCORED = "no ground truth", "no maps", "scored"


def score_localisation(detector: Detector, test: ImageSet, truth: GroundTruth | None, folder: Path, *,
                       seed: int = 0) -> dict[str, Any]:
    """Score `detector`'s maps of the normal test images and of the abnormal ones that have a mask; record the
    per-image hits and the example masks in `folder`. Returns the record entry."""
    if truth is None or not truth.available:
        return {"status": NO_TRUTH, "reason": truth.reason if truth is not None else
                "no localisation ground truth: the prepared data carries none"}
    started = time.perf_counter()
    masks, has_mask = truth.lookup(test.ids)
    abnormal = test.labels == 1
    scored = np.flatnonzero((test.labels == 0) | (abnormal & has_mask))
    if not (abnormal & has_mask).any():
        return {"status": NO_TRUTH, "reason": "no localisation ground truth: no abnormal test image has a mask"}
    maps = detector.anomaly_maps(test.subset(scored))
    if maps is None:
        return {"status": NO_MAPS, "reason": f"{detector.name} returns no anomaly maps"}
    maps = resize_maps(np.asarray(maps, dtype=np.float32), masks.shape[1:])
    scored_masks = masks[scored]
    with_mask = abnormal[scored]
    values: dict[str, Any] = pixel_metrics(maps, scored_masks)
    hits = pointing_hits(maps[with_mask], scored_masks[with_mask])
    values["hit_rate"] = float(hits.mean())
    ci = bootstrap_mean_ci(hits, seed=seed)
    _add_hits(folder, test.ids[scored][with_mask], hits)
    _add_sample_masks(folder, truth)
    without = Counter(truth.missing[i] for i in test.ids[abnormal & ~has_mask] if i in truth.missing)
    return {
        "status": SCORED, "metrics": values, "ci95": {"hit_rate": list(ci)} if ci else {},
        "definitions": dict(DEFINITIONS), "fpr_limit": FPR_LIMIT,
        "ground_truth": {"rule": truth.rule, "source": truth.source, "truth_id": truth.truth_id},
        "images": {"normal": int((test.labels == 0).sum()), "abnormal_with_mask": int(with_mask.sum()),
                   "abnormal_without_mask": int((abnormal & ~has_mask).sum())},
        "without_mask": dict(without), "map_size": list(maps.shape[1:]),
        "seconds": time.perf_counter() - started,
    }


def resize_maps(maps: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """`maps` (N, h, w) at (H, W) = `size`, linearly interpolated on pixel centres (unchanged when equal)."""
    if maps.shape[1:] == tuple(size):
        return maps
    from scipy import ndimage

    zoom = (1.0, size[0] / maps.shape[1], size[1] / maps.shape[2])
    return ndimage.zoom(maps, zoom, order=1, grid_mode=True, mode="nearest").astype(np.float32)


def _add_hits(folder: Path, ids: np.ndarray, hits: np.ndarray) -> None:
    """scores.parquet with the `pointing_hit` column: the hit of each scored abnormal test image, else empty."""
    path = Path(folder) / SCORES_FILE
    scores = pd.read_parquet(path)
    by_id = pd.Series(hits, index=pd.Index(ids.astype(str)), dtype="Float64")
    column = scores["id"].astype(str).map(by_id).astype("Float64")
    scores[HIT_COLUMN] = column.where(scores["split"] == "test", pd.NA)
    atomic_write_parquet(path, scores)


def _add_sample_masks(folder: Path, truth: GroundTruth) -> None:
    """sample_maps.npz (where the run saved one) with `masks` (N, H, W) bool and `has_mask` (N,) of its images."""
    path = Path(folder) / SAMPLE_FILE
    if not path.is_file():
        return
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    masks, has_mask = truth.lookup(arrays["ids"].astype(str))
    arrays.update(masks=masks, has_mask=has_mask)

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    atomic_write(path, write)
