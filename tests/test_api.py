"""The Python API (bench.api): the README's notebook example runs as written, and the API behaves as the CLI does
(same run folders, same errors)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import bench
from bench.core.errors import BenchError
from bench.testing import TINY_DATA, synthetic_data

ROOT = Path(__file__).resolve().parents[1]
SMALL = {"data.n_normal": 60, "data.unlabeled_size": 0, "data.n_val": 20, "data.n_test": 30}


def readme_example() -> str:
    """The first Python block of README.md's "Python API" section."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_notebook_example_runs_as_written(tmp_path):
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", readme_example()], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("complete") >= 6  # pca x 2 settings x 2 seeds + padim x 2 seeds
    assert "n_components=8" in result.stdout and "n_components=16" in result.stdout
    assert "mean ± std over 2 seeds" in result.stdout and "| padim" in result.stdout  # the report table
    runs = list((tmp_path / "results" / "runs" / "synthetic").glob("*/*/run.json"))
    assert len(runs) == 6


def test_run_returns_a_frame_per_run_and_finds_complete_runs_again(tmp_path):
    data_settings = {**SMALL}
    results = bench.run("pca", "synthetic", seeds=(0, 1), preset="smoke", settings=data_settings,
                        runs=tmp_path / "runs", root=None)
    frame = results.frame
    assert list(frame["status"]) == ["complete", "complete"]
    assert {"method", "dataset", "configuration", "setting", "seed", "folder", "auc", "ap", "f1"} <= set(frame)
    assert frame["auc"].between(0, 1).all() and frame["folder"].map(lambda f: Path(f).is_dir()).all()
    again = bench.run("pca", "synthetic", seeds=(0, 1), preset="smoke", settings=data_settings,
                      runs=tmp_path / "runs")
    assert list(again.frame["status"]) == ["skipped", "skipped"]
    assert list(again.frame["auc"]) == list(frame["auc"])
    table = results.table(format="md")
    assert "| pca |" in table and "±" in table
    loaded = bench.load_runs(tmp_path / "runs")
    assert sorted(loaded["folder"]) == sorted(frame["folder"])


def test_settings_spelled_as_values_or_text_are_one_run(tmp_path):
    typed = bench.run("pca", "synthetic", preset="smoke", settings={**SMALL, "whiten": True, "n_components": 0.5},
                      runs=tmp_path)
    text = bench.run("pca", "synthetic", preset="smoke",
                     settings=[f"{k}={v}" for k, v in SMALL.items()] + ["whiten=yes", "n_components=5e-1"],
                     runs=tmp_path)
    assert text.frame["status"].tolist() == ["skipped"]
    assert text.frame["folder"].tolist() == typed.frame["folder"].tolist()


@pytest.mark.parametrize(("call", "message"), [
    (lambda: bench.run("nope", "synthetic"), "unknown method 'nope'"),
    (lambda: bench.run("pca", "synthetic", settings={"colour": 1}), "--set colour: no selected method has this key"),
    (lambda: bench.plan("pca", "synthetic", executor="slurm"), "--executor must be local or ray"),
    (lambda: bench.create_detector("pca", "nope"), "pca has no preset 'nope'"),
])
def test_errors_are_the_clis_bench_errors(call, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BenchError, match=re.escape(message)):
        call()
    assert not (tmp_path / "results").exists()  # nothing written


def test_prepare_create_and_evaluate_without_files(tmp_path):
    data = synthetic_data(tmp_path / "data", TINY_DATA)
    detector = bench.create_detector("pca", "tiny", n_components=4)
    assert detector.config.n_components == 4 and not detector.fitted_
    evaluation = bench.evaluate(detector, data)
    assert detector.fitted_ and 0.5 < evaluation.metrics["auc"] <= 1.0
    assert set(evaluation.scores["split"]) == {"test", "val"}
    low, high = evaluation.ci95["auc"]
    assert low <= evaluation.metrics["auc"] <= high
    assert not list(tmp_path.glob("**/run.json"))
    again = bench.evaluate(detector, data)  # a fitted detector is scored as it is
    assert again.metrics == evaluation.metrics
