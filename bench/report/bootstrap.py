"""95% bootstrap CIs of the seed-averaged metrics, from the runs' saved test scores (nothing is retrained).

The test images are resampled once per bootstrap draw (stratified, class counts fixed) and the same draw is applied
to every seed's scores, so the interval is that of the mean over seeds under test-set sampling (with one seed: a
stratified bootstrap CI of that run). Thresholded metrics use each run's recorded threshold. The pointing-game hit
rate resamples the abnormal test images that have a mask (scores.parquet's `pointing_hit`) the same way; the pixel
metrics need the maps, which runs do not keep, so they get no interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.metrics.image import bootstrap_ap, bootstrap_auc, stratified_indices, threshold_metrics
from bench.report.table import ReportTable
from bench.runs.folder import read_record
from bench.runs.scan import load_scores

N_RESAMPLES = 1000


def _test_scores(folders: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[float | None]] | None:
    """Labels (n,) and scores (seeds, n) on the test split aligned by image id; None if the runs' test images
    differ (then no paired interval exists)."""
    frames, thresholds = [], []
    for folder in folders:
        scores = load_scores(Path(folder))
        frames.append(scores[scores["split"] == "test"].set_index("id").sort_index())
        thresholds.append((read_record(Path(folder)).metrics or {}).get("threshold"))
    first = frames[0]
    if any(not f.index.equals(first.index) for f in frames[1:]):
        return None
    return first["label"].to_numpy(), np.stack([f["score"].to_numpy(float) for f in frames]), thresholds


def seed_mean_ci(folders: Sequence[str], metrics: Sequence[str], *, level: float = 0.95,
                 n_resamples: int = N_RESAMPLES, seed: int = 0) -> dict[str, tuple[float, float]]:
    """(low, high) of each metric's mean over the runs in `folders` (NaN bounds where it cannot be computed)."""
    aligned = _test_scores(folders)
    if aligned is None:
        return {m: (np.nan, np.nan) for m in metrics}
    labels, scores, thresholds = aligned
    pos, neg = stratified_indices(labels, n_resamples, np.random.default_rng(seed))
    index = np.concatenate([pos, neg], axis=1)
    per_seed: dict[str, list[np.ndarray]] = {m: [] for m in metrics}
    for run_scores, threshold in zip(scores, thresholds, strict=True):
        values = {"auc": lambda s=run_scores: bootstrap_auc(s[pos], s[neg]),
                  "ap": lambda s=run_scores: bootstrap_ap(labels[index], s[index])}
        rates = threshold_metrics(labels[index], run_scores[index], threshold) if threshold is not None else {}
        for metric in metrics:
            if metric in values:
                per_seed[metric].append(values[metric]())
            elif metric in rates:
                per_seed[metric].append(rates[metric])
    alpha = (1 - level) / 2
    bounds = {}
    for metric in metrics:
        if len(per_seed[metric]) != len(scores):
            bounds[metric] = (np.nan, np.nan)
            continue
        mean = np.mean(per_seed[metric], axis=0)
        bounds[metric] = (float(np.nanquantile(mean, alpha)), float(np.nanquantile(mean, 1 - alpha)))
    return bounds


def hit_rate_ci(folders: Sequence[str], *, level: float = 0.95, n_resamples: int = N_RESAMPLES,
                seed: int = 0) -> tuple[float, float]:
    """(low, high) of the mean hit rate over the runs in `folders`: one resample of the scored images per draw,
    shared by every seed; NaN bounds when a run has no hits or the runs scored different images."""
    hits = []
    for folder in folders:
        scores = load_scores(Path(folder))
        if "pointing_hit" not in scores:
            return (np.nan, np.nan)
        scored = scores[(scores["split"] == "test") & scores["pointing_hit"].notna()]
        hits.append(scored.set_index("id")["pointing_hit"].astype(float).sort_index())
    if not hits or hits[0].empty or any(not h.index.equals(hits[0].index) for h in hits[1:]):
        return (np.nan, np.nan)
    values = np.stack([h.to_numpy() for h in hits])
    draws = np.random.default_rng(seed).integers(0, values.shape[1], size=(n_resamples, values.shape[1]))
    means = values[:, draws].mean(axis=(0, 2))
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


def add_ci(table: ReportTable, level: float = 0.95) -> ReportTable:
    """Fill table.ci_low / ci_high for every (entry, data set, metric)."""
    low = pd.DataFrame(np.nan, index=table.mean.index, columns=table.mean.columns)
    high = low.copy()
    for row in table.summary.itertuples(index=False):
        folders = sorted(row.folders)
        bounds = seed_mean_ci(folders, table.metrics, level=level)
        if "hit_rate" in table.metrics:
            bounds["hit_rate"] = hit_rate_ci(folders, level=level)
        for metric, (lo, hi) in bounds.items():
            low.loc[row.entry, (row.dataset, metric)] = lo
            high.loc[row.entry, (row.dataset, metric)] = hi
    table.ci_low, table.ci_high = low, high
    return table
