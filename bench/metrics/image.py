"""Detection metrics: AUC and AP (scikit-learn), thresholded metrics under a declared threshold policy,
stratified bootstrap confidence intervals (vectorised) and the DeLong test for two correlated AUCs.

Which metrics a run records, their labels and directions: bench.metrics.table. scikit-learn and scipy.stats are
imported inside the functions that compute (~0.7 s): `bench run` checks its arguments (ThresholdPolicy) without them.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from bench.core.errors import BenchError

TEST_ORACLE_POLICIES = ("test-oracle-f1", "test-eer")
POLICIES = ("val-f1", "val-youden", "normal-quantile", "test-oracle-f1", "test-eer")


@dataclasses.dataclass(frozen=True)
class ThresholdPolicy:
    """How the decision threshold is chosen: from validation data, held-out normals, or (oracle) the test split."""

    name: str
    quantile: float = 0.95

    @classmethod
    def parse(cls, text: str) -> ThresholdPolicy:
        """`val-f1`, `val-youden`, `normal-quantile[:Q]`, `test-oracle-f1`, `test-eer`."""
        name, _, arg = text.partition(":")
        if name not in POLICIES:
            raise BenchError(f"unknown threshold policy {text!r}; choose from {', '.join(POLICIES)}")
        if arg and name != "normal-quantile":
            raise BenchError(f"threshold policy {name} takes no argument")
        quantile = float(arg) if arg else 0.95
        if not 0 < quantile < 1:
            raise BenchError(f"normal-quantile needs 0 < Q < 1, got {quantile}")
        return cls(name, quantile)

    @property
    def uses_test(self) -> bool:
        return self.name in TEST_ORACLE_POLICIES

    def __str__(self) -> str:
        return f"normal-quantile:{self.quantile:g}" if self.name == "normal-quantile" else self.name

    def label(self) -> str:
        """The name as tables print it; test-oracle policies say so."""
        return f"{self}{' (test-oracle)' if self.uses_test else ''}"


def _check_binary(labels: np.ndarray, what: str) -> None:
    present = set(np.unique(labels).tolist())
    if not present <= {0, 1} or len(present) < 2:
        raise BenchError(f"{what} needs both normal (0) and abnormal (1) labels; got {sorted(present)}")


def threshold_max_f1(labels: np.ndarray, scores: np.ndarray) -> float:
    """The score threshold (predict abnormal when score >= t) with the highest F1."""
    from sklearn.metrics import precision_recall_curve

    _check_binary(labels, "a max-F1 threshold")
    precision, recall, thresholds = precision_recall_curve(labels, scores)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                   where=(precision + recall) > 0)
    return float(thresholds[int(np.argmax(f1[:-1]))])


def threshold_youden(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold maximising TPR - FPR (Youden's J)."""
    from sklearn.metrics import roc_curve

    _check_binary(labels, "a Youden threshold")
    fpr, tpr, thresholds = roc_curve(labels, scores)
    finite = np.isfinite(thresholds)
    return float(thresholds[finite][int(np.argmax((tpr - fpr)[finite]))])


def threshold_eer(labels: np.ndarray, scores: np.ndarray) -> float:
    """The threshold where TPR = 1 - FPR (equal error rate), as HealthyGAN's code reports."""
    from sklearn.metrics import roc_curve

    _check_binary(labels, "an EER threshold")
    fpr, tpr, thresholds = roc_curve(labels, scores)
    finite = np.isfinite(thresholds)
    return float(thresholds[finite][int(np.argmin(np.abs((1 - tpr) - fpr)[finite]))])


def choose_threshold(
    policy: ThresholdPolicy,
    *,
    test: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray] | None = None,
    normal_scores: np.ndarray | None = None,
) -> float:
    """The threshold under `policy`; `test`/`val` are (labels, scores), `normal_scores` are held-out normals."""
    if policy.name in ("val-f1", "val-youden"):
        if val is None:
            raise BenchError(f"threshold policy {policy} needs a labelled validation split; this data set has none "
                             "(use normal-quantile)")
        return (threshold_max_f1 if policy.name == "val-f1" else threshold_youden)(*val)
    if policy.name == "normal-quantile":
        if normal_scores is None or len(normal_scores) == 0:
            raise BenchError("threshold policy normal-quantile needs held-out normal images")
        return float(np.quantile(normal_scores, policy.quantile))
    if policy.name == "test-oracle-f1":
        return threshold_max_f1(*test)
    return threshold_eer(*test)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, and 0 where the denominator is 0 (the one zero-division rule)."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float), np.asarray(denominator, float))
    return np.divide(numerator, denominator, out=np.zeros(denominator.shape), where=denominator != 0)


def threshold_metrics(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """F1, precision, recall and specificity when `score >= threshold` predicts abnormal (label 1).

    One row (n,) gives floats; (B, n) rows (bootstrap resamples) give arrays of B. Zero division: a ratio whose
    denominator is 0 is 0, as scikit-learn's `zero_division=0`: precision with no predicted positives, recall
    with no actual positives, specificity with no actual negatives, and F1 where precision + recall is 0.
    """
    predicted = np.asarray(scores) >= threshold
    positive = np.asarray(labels) == 1
    tp = np.sum(predicted & positive, axis=-1)
    fp = np.sum(predicted & ~positive, axis=-1)
    fn = np.sum(~predicted & positive, axis=-1)
    tn = np.sum(~predicted & ~positive, axis=-1)
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    values = {"f1": _ratio(2 * precision * recall, precision + recall), "precision": precision, "recall": recall,
              "specificity": _ratio(tn, tn + fp)}
    return {k: float(v) if v.ndim == 0 else v for k, v in values.items()}


def evaluate(
    labels: np.ndarray,
    scores: np.ndarray,
    policy: ThresholdPolicy,
    *,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    normal_scores: np.ndarray | None = None,
) -> dict[str, Any]:
    """All metrics of one run on the test split: auc, ap, threshold, f1, precision, recall, specificity."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    _check_binary(labels, "AUC")
    threshold = choose_threshold(policy, test=(labels, scores), val=val, normal_scores=normal_scores)
    return {
        "auc": float(roc_auc_score(labels, scores)),
        "ap": float(average_precision_score(labels, scores)),
        "threshold": threshold,
        **threshold_metrics(labels, scores, threshold),
    }


def stratified_indices(labels: np.ndarray, n_resamples: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """(B, n1) indices of positives and (B, n0) of negatives, drawn with replacement within each class."""
    positives = np.flatnonzero(labels == 1)
    negatives = np.flatnonzero(labels == 0)
    pos = positives[rng.integers(0, len(positives), size=(n_resamples, len(positives)))]
    neg = negatives[rng.integers(0, len(negatives), size=(n_resamples, len(negatives)))]
    return pos, neg


def bootstrap_auc(pos_scores: np.ndarray, neg_scores: np.ndarray) -> np.ndarray:
    """AUC of each row: (B, n1) positive and (B, n0) negative scores, ties counted half (Mann-Whitney via ranks)."""
    from scipy import stats

    n1, n0 = pos_scores.shape[1], neg_scores.shape[1]
    ranks = stats.rankdata(np.concatenate([pos_scores, neg_scores], axis=1), axis=1)
    return (ranks[:, :n1].sum(axis=1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def bootstrap_ap(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Average precision of each row of (B, n) labels/scores, with sklearn's handling of tied scores."""
    order = np.argsort(-scores, axis=1, kind="stable")
    sorted_scores = np.take_along_axis(scores, order, axis=1)
    sorted_labels = np.take_along_axis(labels, order, axis=1)
    n = scores.shape[1]
    true_pos = np.cumsum(sorted_labels, axis=1)
    precision = true_pos / np.arange(1, n + 1)
    # A tied group counts as one threshold: every member takes the precision at the group's last element.
    group_end = np.ones_like(sorted_scores, dtype=bool)
    group_end[:, :-1] = sorted_scores[:, :-1] != sorted_scores[:, 1:]
    end_index = np.where(group_end, np.arange(n), n)
    end_index = np.minimum.accumulate(end_index[:, ::-1], axis=1)[:, ::-1]
    precision_at_end = np.take_along_axis(precision, end_index, axis=1)
    return (precision_at_end * sorted_labels).sum(axis=1) / sorted_labels.sum(axis=1)


def bootstrap_ci(
    labels: np.ndarray,
    scores: np.ndarray,
    *,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    threshold: float | None = None,
) -> dict[str, tuple[float, float]]:
    """Percentile CIs for AUC and AP (and, with a fixed `threshold`, F1/precision/recall/specificity) from
    stratified resamples of the test split (class counts kept fixed). Vectorised over resamples."""
    labels = np.asarray(labels)
    scores = np.asarray(scores, dtype=np.float64)
    _check_binary(labels, "a bootstrap CI")
    rng = np.random.default_rng(seed)
    pos, neg = stratified_indices(labels, n_resamples, rng)
    alpha = (1 - level) / 2
    bounds = lambda values: (float(np.quantile(values, alpha)), float(np.quantile(values, 1 - alpha)))  # noqa: E731
    index = np.concatenate([pos, neg], axis=1)
    sample_labels = labels[index]
    sample_scores = scores[index]
    out = {"auc": bounds(bootstrap_auc(scores[pos], scores[neg])),
           "ap": bounds(bootstrap_ap(sample_labels, sample_scores))}
    if threshold is not None:
        out.update({k: bounds(v) for k, v in threshold_metrics(sample_labels, sample_scores, threshold).items()})
    return out


def _delong_components(labels: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC and DeLong's structural components (positives V10, negatives V01) via midranks, O(n log n)."""
    from scipy import stats

    positives, negatives = labels == 1, labels == 0
    x, y = scores[positives], scores[negatives]
    m, n = len(x), len(y)
    tx, ty = stats.rankdata(x), stats.rankdata(y)
    tz = stats.rankdata(np.concatenate([x, y]))
    auc = (tz[:m].sum() - m * (m + 1) / 2) / (m * n)
    return float(auc), (tz[:m] - tx) / n, 1.0 - (tz[m:] - ty) / m


def delong_variance(labels: np.ndarray, scores: np.ndarray) -> float:
    """DeLong's estimate of the variance of one AUC."""
    labels = np.asarray(labels)
    _check_binary(labels, "the DeLong variance")
    _, v10, v01 = _delong_components(labels, np.asarray(scores, float))
    return float(np.var(v10, ddof=1) / len(v10) + np.var(v01, ddof=1) / len(v01))


def delong_test(labels: np.ndarray, scores_a: np.ndarray, scores_b: np.ndarray) -> dict[str, float]:
    """DeLong's test for two correlated AUCs on the same images (fast algorithm of Sun & Xu, 2014).

    Returns auc_a, auc_b, their difference, its standard error, z and the two-sided p-value.
    """
    labels = np.asarray(labels)
    _check_binary(labels, "the DeLong test")
    auc_a, v10_a, v01_a = _delong_components(labels, np.asarray(scores_a, float))
    auc_b, v10_b, v01_b = _delong_components(labels, np.asarray(scores_b, float))
    covariance = np.cov(np.vstack([v10_a, v10_b])) / len(v10_a) + np.cov(np.vstack([v01_a, v01_b])) / len(v01_a)
    variance = covariance[0, 0] + covariance[1, 1] - 2 * covariance[0, 1]
    difference = auc_a - auc_b
    if variance <= 1e-300:
        z, p = (0.0, 1.0) if difference == 0 else (float(np.sign(difference) * np.inf), 0.0)
    else:
        z = float(difference / np.sqrt(variance))
        from scipy import stats

        p = float(2 * stats.norm.sf(abs(z)))
    return {"auc_a": auc_a, "auc_b": auc_b, "difference": float(difference),
            "se": float(np.sqrt(max(variance, 0.0))), "z": z, "p_value": p}
