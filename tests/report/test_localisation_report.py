"""Localisation metrics in reports: `--metrics pixel_auroc,aupro,hit_rate` tables read them from the records, runs
without ground truth print "-" (never 0), the leaderboard shows them where runs have them, `--ci` bootstraps the
hit rate, and the example grid outlines the lesions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.report.bootstrap import hit_rate_ci
from bench.report.figures import dataset_figures
from bench.report.leaderboard_files import write_leaderboard
from tests.report.run_trees import copy_run

PLAIN_PCA = "pca (val-f1)"  # the tree's plain PCA runs, as the table labels them beside the other PCA settings


def pixel_values(folders, metric: str) -> list[float]:
    return [json.loads((f / "run.json").read_text())["localisation"]["metrics"][metric] for f in folders]


def markdown_row(text: str, entry: str) -> dict[str, str]:
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].split("|")]
    (row,) = [[c.strip() for c in line.split("|")] for line in lines if line.split("|")[1].strip() == entry]
    return {name: cell.strip("*_") for name, cell in zip(header, row, strict=True)}  # best/second marks off


def test_report_prints_the_localisation_metrics_asked_for(tree):
    root, folders = tree
    result = CliRunner().invoke(app, ["report", "--dataset", "synthetic", "--runs", str(root), "--metrics",
                                      "auc,pixel_auroc,aupro,hit_rate", "--methods", "pca"])
    assert result.exit_code == 0, result.output
    assert "Localisation metrics score the anomaly maps" in result.output
    row = markdown_row(result.output, PLAIN_PCA)
    for label, metric in (("Pixel AUROC", "pixel_auroc"), ("AUPRO@0.3", "aupro"), ("Hit rate", "hit_rate")):
        values = pixel_values(folders["pca"], metric)
        assert row[label].split(" ± ")[0] == f"{np.mean(values):.3f}"


def test_a_run_without_ground_truth_prints_a_dash_never_zero(tree, tmp_path):
    _, folders = tree

    def no_truth(record: dict) -> None:
        record["localisation"] = {"status": "no ground truth", "reason": "no localisation ground truth: test"}

    for folder in folders["pca"]:
        copy_run(folder, tmp_path, edit=no_truth)
    result = CliRunner().invoke(app, ["report", "--dataset", "synthetic", "--runs", str(tmp_path), "--metrics",
                                      "auc,pixel_auroc,hit_rate"])
    assert result.exit_code == 0, result.output
    row = markdown_row(result.output, "pca")
    assert row["Pixel AUROC"] == row["Hit rate"] == "-" and row["AUC"] != "-"


def test_the_default_report_keeps_to_the_image_metrics(tree):
    root, _ = tree
    result = CliRunner().invoke(app, ["report", "--dataset", "synthetic", "--runs", str(root)])
    assert result.exit_code == 0, result.output
    assert "Specificity" in result.output and "Pixel AUROC" not in result.output


def test_the_leaderboard_shows_localisation_columns_only_where_runs_have_them(tree, tmp_path):
    root, folders = tree
    write_leaderboard([root], tmp_path / "with")
    board = pd.read_csv(tmp_path / "with" / "leaderboard.csv")
    (pca,) = board[(board["dataset"] == "synthetic") & (board["method"] == "pca")].itertuples()
    assert pca.pixel_auroc_mean == pytest.approx(np.mean(pixel_values(folders["pca"], "pixel_auroc")), rel=1e-5)
    assert "Hit rate" in (tmp_path / "with" / "leaderboard.md").read_text()
    for folder in folders["pca"]:  # records from before localisation existed
        copy_run(folder, tmp_path / "old", edit=lambda record: record.pop("localisation"))
    write_leaderboard([tmp_path / "old"], tmp_path / "without")
    assert "pixel_auroc_mean" not in pd.read_csv(tmp_path / "without" / "leaderboard.csv")
    assert "Hit rate" not in (tmp_path / "without" / "leaderboard.md").read_text()


def test_ci_bootstraps_the_hit_rate_from_the_per_image_hits(tree):
    root, folders = tree
    low, high = hit_rate_ci([str(f) for f in folders["pca"]])
    mean = np.mean(pixel_values(folders["pca"], "hit_rate"))
    assert low <= mean <= high and low < high
    result = CliRunner().invoke(app, ["report", "--dataset", "synthetic", "--runs", str(root), "--metrics",
                                      "hit_rate,pixel_auroc", "--ci", "--methods", "pca"])
    assert result.exit_code == 0, result.output
    row = markdown_row(result.output, PLAIN_PCA)
    assert row["Hit rate"].startswith(f"{mean:.3f} [{low:.3f}, {high:.3f}]")
    assert "[" not in row["Pixel AUROC"], "pixel metrics have no interval (the maps are not kept)"


def test_the_example_grid_outlines_the_lesions_of_abnormal_images_only(tree):
    root, _ = tree
    figure = dataset_figures(root, "synthetic", per_class=2)["examples"]
    columns = len(figure.axes) // 4
    rows = [figure.axes[r * columns : (r + 1) * columns] for r in range(4)]  # 2 normal, then 2 abnormal
    assert all(not ax.collections for row in rows[:2] for ax in row)
    assert all(ax.collections for row in rows[2:] for ax in row), "the input and every map carry the outline"


def test_compare_lists_the_localisation_metrics_of_both_runs(tree):
    from bench.report.compare import compare_runs

    _, folders = tree
    first, second = folders["pca"][0], folders["pca4"][0]
    metrics = compare_runs(first, second)["metrics"].set_index("metric")
    for folder, column in ((first, "A"), (second, "B")):
        assert metrics.loc["pixel_auroc", column] == f"{pixel_values([folder], 'pixel_auroc')[0]:.4g}"
    assert metrics.loc["hit_rate", "CI A"].startswith("[")
