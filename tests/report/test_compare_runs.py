"""`bench compare RUN_A RUN_B`: what changed between two runs and what it did."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from bench.cli import app
from bench.core.errors import BenchError
from bench.report.compare import compare_runs


def test_changed_configuration_and_metric_differences(tree):
    _, folders = tree
    a, b = folders["pca"][0], folders["pca4"][0]
    sections = compare_runs(a, b)
    changed = set(sections["configuration"]["key"])
    assert {"config.n_components", "overrides.n_components", "config.max_train_images"} <= changed
    assert not any(key.startswith("data.options") for key in changed)  # same data: not listed
    metrics = sections["metrics"].set_index("metric")
    auc_a, auc_b = (json.loads((f / "run.json").read_text())["metrics"]["auc"] for f in (a, b))
    assert metrics.loc["auc", "B - A"] == f"{auc_b - auc_a:+.4f}"
    assert "delong" in sections  # same test images: a paired test


def test_show_all_lists_unchanged_keys_too(tree):
    _, folders = tree
    changed_only = compare_runs(folders["pca"][0], folders["pca"][1])["configuration"]
    everything = compare_runs(folders["pca"][0], folders["pca"][1], show_all=True)["configuration"]
    assert changed_only.empty and not everything.empty


def test_runs_on_different_test_images_get_no_delong_test(tree):
    _, folders = tree
    assert "delong" not in compare_runs(folders["pca"][0], folders["hard_pca"][0])


def test_a_folder_without_a_run_record_is_an_error(tmp_path):
    with pytest.raises(BenchError, match="not a run folder"):
        compare_runs(tmp_path, tmp_path)


def test_cli_prints_the_sections(tree):
    _, folders = tree
    result = CliRunner().invoke(app, ["compare", str(folders["pca"][0]), str(folders["pca4"][0] / "run.json")])
    assert result.exit_code == 0, result.output
    for word in ("configuration", "n_components", "metrics", "delong"):
        assert word in result.output
