"""`bench report` in Markdown, CSV and HTML; several data sets side by side; CIs; paired DeLong tests."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest

from bench.core.errors import BenchError
from bench.metrics.image import delong_test
from bench.report.report import ReportOptions, report
from bench.runs.scan import load_scores
from tests.report.run_trees import HARD_DATASET, ODD_METHOD, copy_run


def metric_mean(folders, metric: str) -> float:
    return float(np.mean([json.loads((f / "run.json").read_text())["metrics"][metric] for f in folders]))


def test_markdown_shows_mean_and_std_over_seeds(tree):
    root, folders = tree
    text = report(root, ReportOptions(datasets=("synthetic",), metrics=("auc", "f1")))
    values = [json.loads((f / "run.json").read_text())["metrics"]["auc"] for f in folders["pca4"]]
    expected = f"{np.mean(values):.3f} ± {np.std(values, ddof=1):.3f}"
    (row,) = [line for line in text.splitlines() if line.startswith("| pca (max")]
    assert expected in row
    assert "threshold policy test-oracle-f1 (test-oracle" in text  # an oracle policy is marked as such


def test_csv_holds_the_raw_means_in_tidy_rows(tree):
    root, folders = tree
    frame = pd.read_csv(io.StringIO(report(root, ReportOptions(datasets=("synthetic",), fmt="csv"))))
    row = frame[(frame["method"] == ODD_METHOD) & (frame["metric"] == "ap")].iloc[0]
    assert row["mean"] == pytest.approx(metric_mean(folders["odd"], "ap"))
    assert row["n_seeds"] == 2 and row["split_id"] and row["threshold_policy"] == "val-f1"


def test_datasets_side_by_side(tree):
    root, folders = tree
    text = report(root, ReportOptions(datasets=("synthetic", HARD_DATASET), metrics=("auc", "ap")))
    header = text.splitlines()[2]
    assert "Synthetic AUC" in header and "synthetic\\_hard AP" in header
    (row,) = [line for line in text.splitlines() if line.startswith("| pca\\_v2 100%")]
    assert f"{metric_mean(folders['hard_odd'], 'auc'):.3f}" in row


def test_methods_as_columns(tree):
    root, _ = tree
    text = report(root, ReportOptions(datasets=("synthetic",), layout="columns", metrics=("auc", "f1")))
    lines = text.splitlines()
    assert "pca\\_v2 100%" in lines[2]
    assert [line.split("|")[1].strip() for line in lines[4:]] == ["Seeds", "AUC", "F1"]


def test_missing_metric_prints_a_dash_never_zero(tree, tmp_path):
    _, folders = tree
    copy_run(folders["odd"][0], tmp_path, edit=lambda record: record["metrics"].pop("ap"))
    text = report(tmp_path, ReportOptions(datasets=("synthetic",), metrics=("auc", "ap")))
    (row,) = [line for line in text.splitlines() if line.startswith("| pca")]
    assert row.split("|")[3].strip() == "-"


def test_html_escapes_names_and_styles_the_best(tree):
    root, _ = tree
    text = report(root, ReportOptions(datasets=("synthetic",), fmt="html", standalone=True))
    assert text.startswith("<!DOCTYPE html>") and "<table" in text
    assert "font-weight: bold" in text and "text-decoration: underline" in text


def test_ci_brackets_hold_the_mean(tree):
    root, _ = tree
    frame = pd.read_csv(io.StringIO(report(root, ReportOptions(datasets=("synthetic",), fmt="csv", ci=True))))
    assert frame["ci95_low"].notna().all()
    assert ((frame["ci95_low"] <= frame["mean"] + 1e-9) & (frame["mean"] <= frame["ci95_high"] + 1e-9)).all()
    text = report(root, ReportOptions(datasets=("synthetic",), ci=True, metrics=("auc",)))
    assert "95% stratified bootstrap CI" in text and " [" in text


def test_compare_adds_paired_delong_p_values_per_seed(tree):
    root, folders = tree
    text = report(root, ReportOptions(datasets=("synthetic",), fmt="csv", compare=("pca", ODD_METHOD),
                                      methods=("pca", ODD_METHOD), metrics=("auc",)))
    tests = pd.read_csv(io.StringIO(text.split("\n\n")[-1]))
    pair = tests[(tests["method_a"] == "pca (val-f1)") & (tests["method_b"] == ODD_METHOD)]
    assert sorted(pair["seed"]) == [0, 1]
    a, b = (load_scores(f).query("split == 'test'").set_index("id").sort_index()
            for f in (folders["pca"][0], folders["odd"][0]))
    expected = delong_test(a["label"].to_numpy(), a["score"].to_numpy(), b["score"].to_numpy())["p_value"]
    assert pair.loc[pair["seed"] == 0, "p_value"].iloc[0] == pytest.approx(expected)


def test_unknown_names_and_formats_are_errors(tree):
    root, _ = tree
    with pytest.raises(BenchError, match="no runs of 'nope'"):
        report(root, ReportOptions(datasets=("synthetic",), compare=("pca", "nope")))
    with pytest.raises(BenchError, match="--format"):
        report(root, ReportOptions(datasets=("synthetic",), fmt="docx"))
    with pytest.raises(BenchError, match="no complete runs"):
        report(root, ReportOptions(datasets=("rsna",)))
