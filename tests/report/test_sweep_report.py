"""`bench report --by KEY` and `bench plot --by KEY` on a real sweep (PCA, two anomaly ratios x two n_components, and
a method the swept method key does not reach)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.core.errors import BenchError
from bench.report.collect import runs_frame
from bench.report.report import ReportOptions, report
from bench.report.sweep_figures import by_figure, write_by_figures
from bench.report.sweep_table import build_by_table
from tests.report.sweep_trees import SHUFFLED, make_sweep_tree, registered

pytestmark = pytest.mark.xdist_group("sweep-report")  # one worker builds the module's `sweep` once (make test -n)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    root = tmp_path_factory.mktemp("sweep-runs")
    with registered():
        yield root, make_sweep_tree(root)


def records(folders: list[Path]) -> list[dict]:
    return [json.loads((f / "run.json").read_text()) for f in folders]


def mean_of(folders: list[Path], metric: str, **where: object) -> float:
    """The mean of `metric` over the runs whose record matches `where` (method, overrides, data options)."""
    chosen = [r["metrics"][metric] for r in records(folders)
              if r["method"] == where.get("method", r["method"])
              and all(r["overrides"].get(k) == v for k, v in where.get("overrides", {}).items())
              and all(r["data"]["options"].get(k) == v for k, v in where.get("data", {}).items())]
    assert chosen, where
    return float(np.mean(chosen))


def test_the_sweep_ran_each_point_once(sweep):
    _, folders = sweep
    # 2 ratios x (pca at 2 and 8 + the shuffled PCA once) x 2 seeds
    assert len(folders) == len(set(folders)) == 12
    assert {(r["method"], r["overrides"].get("n_components"), r["data"]["options"]["anomaly_ratio"])
            for r in records(folders)} == {(m, n, a) for a in (0.2, 0.6)
                                           for m, n in (("pca", "2"), ("pca", "8"), (SHUFFLED, None))}


def test_by_data_key_puts_each_value_in_its_own_columns(sweep):
    root, folders = sweep
    text = report(root, ReportOptions(datasets=("synthetic",), by="data.anomaly_ratio", metrics=("auc", "ap")))
    lines = text.splitlines()
    assert lines[2].split("|")[2:6] == [" anomaly\\_ratio=0.2 AUC ", " anomaly\\_ratio=0.2 AP ",
                                         " anomaly\\_ratio=0.6 AUC ", " anomaly\\_ratio=0.6 AP "]
    rows = {line.split("|")[1].strip(): line for line in lines[4:]}
    assert set(rows) == {"pca (n\\_components=2)", "pca (n\\_components=8)", "pca\\_shuffled"}
    expected = mean_of(folders, "auc", method="pca", overrides={"n_components": "8"}, data={"anomaly_ratio": 0.6})
    assert rows["pca (n\\_components=8)"].split("|")[4].strip().strip("*").startswith(f"{expected:.3f}")
    assert "by data.anomaly_ratio" in text and "over 2 seeds" in text


def test_by_method_key_reads_the_value_of_runs_that_kept_the_default(sweep):
    root, folders = sweep
    frame = pd.read_csv(io.StringIO(report(root, ReportOptions(datasets=("synthetic",), by="n_components",
                                                              metrics=("auc",), fmt="csv"))),
                        dtype={"value": str})
    assert sorted(frame["value"].unique()) == ["0.95", "2", "8"]  # 0.95: the shuffled PCA's preset
    shuffled = frame[frame["method"] == SHUFFLED]
    assert set(shuffled["value"]) == {"0.95"} and set(shuffled["n_seeds"]) == {2}
    row = frame[(frame["method"] == "pca") & (frame["value"] == "2")
                & frame["entry"].str.contains("0.2")].iloc[0]
    assert row["mean"] == pytest.approx(mean_of(folders, "auc", method="pca", overrides={"n_components": "2"},
                                                data={"anomaly_ratio": 0.2}))


def test_a_method_scoped_key_leaves_other_methods_out_and_says_so(sweep):
    root, _ = sweep
    text = report(root, ReportOptions(datasets=("synthetic",), by="pca.n_components", metrics=("auc",)))
    assert "pca\\_shuffled" not in text.split("\n\n", 1)[1]
    assert f"Left out (no pca.n_components): {SHUFFLED}." in text


def test_a_key_no_run_has_is_an_error(sweep):
    root, _ = sweep
    with pytest.raises(BenchError, match="no complete run of synthetic has acm"):
        report(root, ReportOptions(datasets=("synthetic",), by="acm"))


def test_by_does_not_combine_with_tests(sweep):
    root, _ = sweep
    with pytest.raises(BenchError, match="--by makes its own table"):
        report(root, ReportOptions(datasets=("synthetic",), by="n_components", compare=("pca", SHUFFLED)))


def test_by_latex_marks_the_best_per_value(sweep):
    root, _ = sweep
    tex = report(root, ReportOptions(datasets=("synthetic",), by="data.anomaly_ratio", metrics=("auc",),
                                     fmt="latex"))
    assert "anomaly\\_ratio=0.2 & anomaly\\_ratio=0.6" in tex
    (best,) = [line for line in tex.splitlines() if line.startswith("pca (n\\_components=8)")]
    assert best.count("\\textbf") == 2


def test_plot_by_draws_one_line_per_method_at_the_values(sweep, tmp_path):
    root, _ = sweep
    by = build_by_table(runs_frame(root), "synthetic", "data.anomaly_ratio", ["auc", "ap"])
    figure = by_figure(by)
    for ax in figure.axes:
        assert len(ax.lines) == 3
        assert [list(line.get_xdata()) for line in ax.lines] == [[0.2, 0.6]] * 3
    paths = write_by_figures(root, ["synthetic"], "data.anomaly_ratio", tmp_path, ["auc", "ap"])
    assert sorted(p.name for p in paths) == ["synthetic_by_data-anomaly_ratio.pdf",
                                             "synthetic_by_data-anomaly_ratio.png"]
    assert all(p.stat().st_size > 5000 for p in paths)
