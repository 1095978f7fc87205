"""ROC and precision-recall curves of one configuration, averaged over its seeds (from saved test scores).

ROC: vertical averaging (Fawcett 2006): each seed's TPR interpolated on a common FPR grid, then mean and std.
PR: each seed's interpolated precision (the best precision at recall >= r, the usual envelope) on a common recall
grid, then mean and std. The legend numbers are the records' AUC/AP, averaged over the same seeds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import precision_recall_curve, roc_curve

from bench.runs.scan import load_scores

GRID = np.linspace(0.0, 1.0, 201)


@dataclasses.dataclass(frozen=True)
class Curve:
    """One line to draw: x grid, mean y, std of y over seeds (None for one seed), and its legend label."""

    label: str
    x: np.ndarray
    y: np.ndarray
    y_std: np.ndarray | None


def load_test_scores(folder: str | Path) -> pd.DataFrame:
    """The test split of a run's scores: id, label, score."""
    scores = load_scores(Path(folder))
    return scores[scores["split"] == "test"].reset_index(drop=True)


def _mean(curves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    stacked = np.vstack(curves)
    return stacked.mean(axis=0), (stacked.std(axis=0, ddof=1) if len(curves) > 1 else None)


def roc(label: str, runs: Sequence[pd.DataFrame]) -> Curve:
    """The seed-averaged ROC curve of `runs` (test-score frames)."""
    tprs = []
    for scores in runs:
        fpr, tpr, _ = roc_curve(scores["label"], scores["score"])
        interpolated = np.interp(GRID, fpr, tpr)
        interpolated[0] = 0.0
        tprs.append(interpolated)
    mean, std = _mean(tprs)
    return Curve(label, GRID, mean, std)


def precision_recall(label: str, runs: Sequence[pd.DataFrame]) -> Curve:
    """The seed-averaged (interpolated) precision-recall curve of `runs`."""
    precisions = []
    for scores in runs:
        precision, recall, _ = precision_recall_curve(scores["label"], scores["score"])
        order = np.argsort(recall, kind="stable")
        recall, precision = recall[order], precision[order]
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        index = np.minimum(np.searchsorted(recall, GRID, side="left"), len(recall) - 1)
        precisions.append(envelope[index])
    mean, std = _mean(precisions)
    return Curve(label, GRID, mean, std)


def prevalence(runs: Sequence[pd.DataFrame]) -> float:
    """The fraction of abnormal test images (the PR curve of a random detector)."""
    return float(np.mean([scores["label"].mean() for scores in runs]))
