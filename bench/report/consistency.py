"""Run records checked against their scores before a report counts them (issue 28).

scores.parquet is the source of truth: run.json's image metrics are re-derived from its test rows (AUC and AP from
the ranking; F1, precision, recall and specificity at the record's own threshold) and must agree within TOLERANCE.
Every metric a record holds (image and localisation) must be a finite number in [0, 1]; a metric the record lacks is
missing, not wrong. Localisation metrics cannot be re-derived from the scores (they need the maps), so only their
type and range are checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from bench.metrics.table import LOCALISATION_METRICS, METRICS, THRESHOLDED

TOLERANCE = 1e-6  # float32 scores and float64 metrics: the same computation agrees far closer than this


def _value_problem(key: str, value: object) -> str | None:
    """Why a recorded metric value is unusable (None when it is a finite number in [0, 1], or absent)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{key} is not a number ({value!r})"
    if math.isnan(value):
        return f"{key} is NaN"
    if not 0.0 <= value <= 1.0:
        return f"{key} {value:g} is outside [0, 1]"
    return None


def derived_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float | None) -> dict[str, float]:
    """The image metrics of test labels and scores: auc, ap and (with a threshold) the thresholded ones."""
    from bench.metrics.image import bootstrap_ap, bootstrap_auc, threshold_metrics

    labels = np.asarray(labels, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    out = {"auc": float(bootstrap_auc(scores[None, labels == 1], scores[None, labels == 0])[0]),
           "ap": float(bootstrap_ap(labels[None], scores[None])[0])}
    if threshold is not None:
        out.update(threshold_metrics(labels, scores, threshold))
    return out


def metrics_problem(folder: Path, metrics: Mapping[str, object] | None,
                    localisation: Mapping[str, object] | None) -> str | None:
    """Why a complete run's recorded metrics cannot be trusted (None when they agree with scores.parquet)."""
    metrics = dict(metrics or {})
    pixel = dict((localisation or {}).get("metrics") or {})
    for key in METRICS:
        if (problem := _value_problem(key, metrics.get(key))) is not None:
            return problem
    for key in LOCALISATION_METRICS:
        if (problem := _value_problem(key, pixel.get(key))) is not None:
            return problem
    try:
        scores = pd.read_parquet(Path(folder) / "scores.parquet", columns=["label", "split", "score"])
    except Exception as exc:  # noqa: BLE001 - any unreadable file is named, whatever the reader says
        return f"scores.parquet is unreadable ({type(exc).__name__})"
    test = scores[scores["split"] == "test"]
    labels, values = test["label"].to_numpy(), test["score"].to_numpy(dtype=np.float64)
    if not len(test) or set(np.unique(labels).tolist()) != {0, 1} or not np.isfinite(values).all():
        return "scores.parquet holds no usable test scores (both labels, finite scores)"
    threshold = metrics.get("threshold")
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or math.isnan(threshold):
        threshold = None
    derived = derived_metrics(labels, values, threshold)
    for key in METRICS:
        recorded = metrics.get(key)
        if recorded is None or key not in derived or (key in THRESHOLDED and threshold is None):
            continue
        if abs(float(recorded) - derived[key]) > TOLERANCE:
            return (f"{key} {float(recorded):.4g} disagrees with scores.parquet ({derived[key]:.4g}); "
                    "run.json was edited or belongs to other scores: run it again with --force")
    return None
