"""Metrics against scikit-learn and brute-force references; the metric table against what is computed."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, precision_recall_fscore_support, roc_auc_score

from bench.core.errors import BenchError
from bench.metrics.image import (
    ThresholdPolicy,
    bootstrap_ap,
    bootstrap_auc,
    bootstrap_ci,
    choose_threshold,
    delong_test,
    delong_variance,
    evaluate,
    threshold_max_f1,
    threshold_metrics,
)
from bench.metrics.table import (
    ALL_METRICS,
    HIGHER_IS_BETTER,
    LOCALISATION_METRICS,
    METRICS,
    THRESHOLDED,
    metric_label,
    parse_metrics,
)


def sample(n0=300, n1=200, shift=1.0, seed=0, rounding=None):
    rng = np.random.default_rng(seed)
    labels = np.r_[np.zeros(n0), np.ones(n1)].astype(int)
    scores = rng.normal(size=n0 + n1) + shift * labels
    return labels, (np.round(scores, rounding) if rounding is not None else scores)


def mann_whitney_auc(labels, scores):
    pos, neg = scores[labels == 1], scores[labels == 0]
    greater = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return greater / (len(pos) * len(neg))


@pytest.mark.parametrize("rounding", [None, 1])
def test_vectorised_auc_and_ap_match_references_with_ties(rounding):
    labels, scores = sample(rounding=rounding)
    rng = np.random.default_rng(1)
    index = rng.integers(0, len(labels), size=(6, len(labels)))
    aps = bootstrap_ap(labels[index], scores[index])
    for k, row in enumerate(index):
        assert aps[k] == pytest.approx(average_precision_score(labels[row], scores[row]), abs=1e-12)
    pos = np.flatnonzero(labels == 1)[rng.integers(0, 200, size=(4, 200))]
    neg = np.flatnonzero(labels == 0)[rng.integers(0, 300, size=(4, 300))]
    aucs = bootstrap_auc(scores[pos], scores[neg])
    for k in range(4):
        rows = np.r_[pos[k], neg[k]]
        assert aucs[k] == pytest.approx(mann_whitney_auc(labels[rows], scores[rows]), abs=1e-12)
        assert aucs[k] == pytest.approx(roc_auc_score(labels[rows], scores[rows]), abs=1e-12)


def test_max_f1_threshold_gives_the_best_f1():
    labels, scores = sample(seed=3)
    threshold = threshold_max_f1(labels, scores)
    best = threshold_metrics(labels, scores, threshold)["f1"]
    brute = max(f1_score(labels, scores >= t) for t in np.unique(scores))
    assert best == pytest.approx(brute)


def sklearn_threshold_metrics(labels, scores, threshold):
    """The reference: scikit-learn with zero_division=0; specificity is the recall of the normal class."""
    predicted = (scores >= threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(labels, predicted, labels=[0, 1], zero_division=0)
    return {"f1": f1[1], "precision": precision[1], "recall": recall[1], "specificity": recall[0]}


EDGE_CASES = {
    "no predicted positives": ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 0.9),
    "everything predicted positive": ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 0.0),
    "no actual positives": ([0, 0, 0], [0.1, 0.5, 0.9], 0.5),
    "no actual positives, none predicted": ([0, 0, 0], [0.1, 0.2, 0.3], 0.5),
    "no actual negatives": ([1, 1, 1], [0.1, 0.5, 0.9], 0.5),
    "no actual negatives, none predicted": ([1, 1, 1], [0.1, 0.2, 0.3], 0.5),
    "every prediction wrong": ([0, 1], [0.9, 0.1], 0.5),
    "one image": ([1], [0.7], 0.5),
    "ties at the threshold count as positive": ([0, 1, 0, 1], [0.5, 0.5, 0.2, 0.8], 0.5),
}


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_threshold_metrics_match_sklearn_in_edge_cases(case):
    labels, scores, threshold = (np.asarray(v) for v in EDGE_CASES[case])
    ours = threshold_metrics(labels, scores, float(threshold))
    assert ours == pytest.approx(sklearn_threshold_metrics(labels, scores, threshold), rel=1e-12)
    assert all(type(v) is float for v in ours.values())


def test_threshold_metrics_match_sklearn_at_every_threshold():
    labels, scores = sample(n0=40, n1=25, seed=4, rounding=1)
    for threshold in np.r_[np.unique(scores), scores.min() - 1, scores.max() + 1]:
        assert threshold_metrics(labels, scores, threshold) == pytest.approx(
            sklearn_threshold_metrics(labels, scores, threshold), rel=1e-12)


def test_threshold_metrics_of_resample_rows_equal_those_of_each_row():
    labels, scores = sample(n0=30, n1=20, seed=15)
    index = np.random.default_rng(0).integers(0, len(labels), size=(8, len(labels)))
    index[0] = np.flatnonzero(labels == 0)[0]  # a row of one normal image: no positives at all
    rows = threshold_metrics(labels[index], scores[index], 0.3)
    for k, row in enumerate(index):
        single = threshold_metrics(labels[row], scores[row], 0.3)
        assert {m: v[k] for m, v in rows.items()} == single


def test_the_metric_table_names_what_evaluate_and_the_bootstrap_compute():
    labels, scores = sample(seed=16)
    metrics = evaluate(labels, scores, ThresholdPolicy.parse("test-eer"))
    assert list(metrics) == ["auc", "ap", "threshold", *THRESHOLDED]
    assert set(metrics) - {"threshold"} == set(METRICS) == set(HIGHER_IS_BETTER) - set(LOCALISATION_METRICS)
    assert tuple(bootstrap_ci(labels, scores, threshold=0.5, n_resamples=20)) == METRICS


def test_the_metric_table_names_what_the_localisation_step_computes():
    from bench.metrics.localisation import DEFINITIONS

    assert set(DEFINITIONS) == set(LOCALISATION_METRICS) == {"pixel_auroc", "pixel_ap", "aupro", "hit_rate"}
    assert (*METRICS, *LOCALISATION_METRICS) == ALL_METRICS
    assert all(HIGHER_IS_BETTER[m] for m in LOCALISATION_METRICS) and not set(THRESHOLDED) & set(LOCALISATION_METRICS)


def test_metric_names_parse_from_keys_labels_and_aliases():
    assert parse_metrics(None) == METRICS
    assert parse_metrics("AUC, spec,Precision,auc") == ("auc", "specificity", "precision")
    assert [metric_label(m) for m in METRICS] == ["AUC", "AP", "F1", "Precision", "Recall", "Specificity"]
    with pytest.raises(BenchError, match="unknown metric 'accuracy'"):
        parse_metrics("auc,accuracy")


def test_localisation_metrics_parse_but_are_not_in_the_default_list():
    assert parse_metrics("auc,pixel_auroc,AUPRO,hit_rate,pointing") == ("auc", "pixel_auroc", "aupro", "hit_rate")
    assert not set(parse_metrics(None)) & set(LOCALISATION_METRICS)


def test_policies_use_the_data_they_declare():
    labels, scores = sample(seed=5)
    val_labels, val_scores = sample(seed=6)
    normals = np.random.default_rng(7).normal(size=100)
    assert choose_threshold(ThresholdPolicy.parse("val-f1"), test=(labels, scores),
                            val=(val_labels, val_scores)) == threshold_max_f1(val_labels, val_scores)
    assert choose_threshold(ThresholdPolicy.parse("normal-quantile:0.9"), test=(labels, scores),
                            normal_scores=normals) == pytest.approx(np.quantile(normals, 0.9))
    with pytest.raises(BenchError, match="validation split"):
        choose_threshold(ThresholdPolicy.parse("val-f1"), test=(labels, scores))


def test_test_oracle_policies_are_labelled():
    assert ThresholdPolicy.parse("test-eer").label() == "test-eer (test-oracle)"
    assert not ThresholdPolicy.parse("val-f1").uses_test
    with pytest.raises(BenchError, match="unknown threshold policy"):
        ThresholdPolicy.parse("best")


def test_eer_threshold_balances_error_rates():
    labels, scores = sample(seed=8)
    metrics = evaluate(labels, scores, ThresholdPolicy.parse("test-eer"))
    assert abs((1 - metrics["recall"]) - (1 - metrics["specificity"])) < 0.02


def test_evaluate_reports_sklearn_auc_and_ap():
    labels, scores = sample(seed=9)
    metrics = evaluate(labels, scores, ThresholdPolicy.parse("test-oracle-f1"))
    assert metrics["auc"] == pytest.approx(roc_auc_score(labels, scores))
    assert metrics["ap"] == pytest.approx(average_precision_score(labels, scores))


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded():
    labels, scores = sample(seed=10)
    ci = bootstrap_ci(labels, scores, threshold=0.5, seed=1)
    auc = roc_auc_score(labels, scores)
    assert ci["auc"][0] < auc < ci["auc"][1]
    assert set(ci) == {"auc", "ap", "f1", "precision", "recall", "specificity"}
    assert ci == bootstrap_ci(labels, scores, threshold=0.5, seed=1)


def test_delong_variance_agrees_with_bootstrap_variance_on_a_large_sample():
    labels, scores = sample(n0=2000, n1=2000, shift=0.8, seed=11)
    rng = np.random.default_rng(0)
    pos = np.flatnonzero(labels == 1)[rng.integers(0, 2000, size=(2000, 2000))]
    neg = np.flatnonzero(labels == 0)[rng.integers(0, 2000, size=(2000, 2000))]
    boot_var = bootstrap_auc(scores[pos], scores[neg]).var()
    assert delong_variance(labels, scores) == pytest.approx(boot_var, rel=0.15)


def test_delong_matches_brute_force_structural_components():
    labels, a = sample(n0=60, n1=40, seed=12, rounding=1)
    b = a + np.random.default_rng(13).normal(scale=0.7, size=len(a))

    def components(scores):
        pos, neg = scores[labels == 1], scores[labels == 0]
        psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
        return psi.mean(axis=1), psi.mean(axis=0)

    (v10a, v01a), (v10b, v01b) = components(a), components(b)
    s10, s01 = np.cov(np.vstack([v10a, v10b])), np.cov(np.vstack([v01a, v01b]))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / 40 + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / 60
    result = delong_test(labels, a, b)
    assert result["se"] == pytest.approx(np.sqrt(var), rel=1e-9)
    assert result["auc_a"] == pytest.approx(roc_auc_score(labels, a))


def test_delong_identical_scores_give_p_one():
    labels, scores = sample(seed=14)
    assert delong_test(labels, scores, scores)["p_value"] == 1.0


def test_single_class_is_a_clear_error():
    with pytest.raises(BenchError, match="both normal"):
        evaluate(np.zeros(5, int), np.arange(5.0), ThresholdPolicy.parse("test-eer"))
