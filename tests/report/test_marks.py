"""Best in bold, second underlined: on the right cells, with ties, and for lower-is-better metrics."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from bench.metrics.table import METRICS
from bench.report.collect import runs_frame
from bench.report.report import ReportOptions, render_table
from bench.report.table import build_table, rank_marks


def marks_of(values: list[float], metric: str = "auc", digits: int = 3, **kwargs) -> list[str]:
    means = pd.DataFrame({metric: values}, index=[f"m{i}" for i in range(len(values))])
    return rank_marks(means, digits, **kwargs)[metric].tolist()


def test_best_and_second_by_value():
    assert marks_of([0.7, 0.9, 0.8]) == ["", "best", "second"]


def test_tied_best_share_bold_and_the_next_value_is_second():
    assert marks_of([0.9, 0.9, 0.8, 0.7]) == ["best", "best", "second", ""]


def test_tied_second_share_the_underline():
    assert marks_of([0.9, 0.8, 0.8, 0.7]) == ["best", "second", "second", ""]


def test_values_equal_at_the_printed_precision_are_ties():
    assert marks_of([0.90012, 0.89991, 0.8], digits=3) == ["best", "best", "second"]
    assert marks_of([0.90012, 0.89991, 0.8], digits=4) == ["best", "second", ""]


def test_lower_is_better_metric_marks_the_smallest():
    assert marks_of([0.1, 0.3, 0.2], metric="error", higher_is_better={"error": False}) == ["best", "", "second"]


def test_missing_values_are_never_marked():
    assert marks_of([np.nan, 0.5, 0.6]) == ["", "second", "best"]


def test_a_column_with_one_value_gets_no_mark():
    assert marks_of([np.nan, 0.5]) == ["", ""]


def _latex_row(latex: str, entry: str) -> list[str]:
    from bench.report.latex import escape_latex

    (line,) = [line for line in latex.splitlines() if line.startswith(escape_latex(entry) + " &")]
    return [cell.strip() for cell in line.rstrip("\\ ").split("&")[1:]]


def test_latex_marks_land_on_the_cells_of_the_best_runs(tree):
    root, folders = tree
    means = {}
    for name, entry in (("pca", "pca (val-f1)"), ("odd", "pca_v2 100%"),
                        ("pca4", "pca (max_train_images=30, n_components=4, val-f1)")):
        records = [json.loads((f / "run.json").read_text()) for f in folders[name]]
        means[entry] = np.mean([r["metrics"]["auc"] for r in records])
    table = build_table(runs_frame(root), ["synthetic"], ["auc"], methods=["pca", "pca_v2 100%"])
    latex = render_table(table, ReportOptions(datasets=("synthetic",), fmt="latex", metrics=("auc",)))
    ranked = sorted(means, key=lambda e: round(means[e], 3), reverse=True)
    assert _latex_row(latex, ranked[0])[-1].startswith(r"\textbf{")
    assert _latex_row(latex, ranked[1])[-1].startswith(r"\underline{")
    assert not _latex_row(latex, ranked[2])[-1].startswith((r"\textbf", r"\underline"))


def test_lower_is_better_flips_the_marks_in_the_rendered_table(tree):
    root, _ = tree
    frame = runs_frame(root)
    higher = build_table(frame, ["synthetic"], METRICS)
    lower = build_table(frame, ["synthetic"], METRICS, higher_is_better={m: False for m in METRICS})
    for column in higher.mean.columns:
        best_high = set(higher.marks.index[higher.marks[column] == "best"])
        best_low = set(lower.marks.index[lower.marks[column] == "best"])
        values = higher.mean[column].round(3)
        assert best_high == set(values.index[values == values.max()])
        assert best_low == set(values.index[values == values.min()])


def test_entries_on_different_splits_are_ranked_apart():
    means = pd.DataFrame({("d", "auc"): [0.9, 0.8, 0.7, 0.6]}, index=["a", "b", "c", "e"])
    groups = pd.DataFrame({"d": ["s1", "s1", "s2", "s2"]}, index=means.index)
    assert rank_marks(means, groups=groups)[("d", "auc")].tolist() == ["best", "second", "best", "second"]
