"""The `bench` console script end to end, as a user runs it (subprocesses of the installed script; a rerun and
its report through bench.cli.main in this process, tests.cli_helpers)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.cli_helpers import BENCH, bench, bench_in_process

SMALL = ["--set", "data.n_normal=40", "--set", "data.unlabeled_size=0", "--set", "data.n_val=6",
         "--set", "data.n_test=10", "--set", "data.generate_size=64"]


def test_help_and_list():
    assert bench("--help").returncode == 0
    listing = bench("list")
    assert listing.returncode == 0
    assert "pca" in listing.stdout and "synthetic" in listing.stdout


def test_run_then_report(tmp_path):
    runs = tmp_path / "runs"
    result = bench("run", "--methods", "pca", "--dataset", "synthetic", "--root", str(tmp_path / "data"),
                   "--seeds", "0,1", "--preset", "smoke", "--runs", str(runs), *SMALL)
    assert result.returncode == 0, result.stderr
    assert "AUC" in result.stdout
    records = sorted(runs.glob("synthetic/pca/*/run.json"))
    assert [json.loads(r.read_text())["seed"] for r in records] == [0, 1]
    # The same command again and the report: what they print, through bench.cli.main in this process (the
    # first command above is the installed script in a process of its own).
    again = bench_in_process("run", "--methods", "pca", "--dataset", "synthetic", "--root", str(tmp_path / "data"),
                             "--preset", "smoke", "--runs", str(runs), *SMALL)
    assert "done before" in again.stdout
    report = bench_in_process("report", "--dataset", "synthetic", "--runs", str(runs))
    assert report.returncode == 0
    assert "| pca" in report.stdout and "over 2 seeds" in report.stdout


def test_data_prepare_prints_counts_against_the_protocol(tmp_path):
    result = bench("data", "prepare", "synthetic", "--root", str(tmp_path), *SMALL)
    assert result.returncode == 0, result.stderr
    assert "train_normal" in result.stdout and "40" in result.stdout


@pytest.mark.parametrize(("args", "message"), [
    (["run", "--methods", "pcaa", "--dataset", "synthetic"], "Did you mean pca"),
    (["run", "--methods", "pca", "--dataset", "nosuch"], "unknown dataset 'nosuch'"),
    (["run", "--methods", "pca", "--dataset", "synthetic", "--set", "lr=1"], "no selected method has this key"),
    (["run", "--methods", "pca", "--dataset", "synthetic", "--set", "n_components"], "key=value"),
    (["run", "--methods", "pca", "--dataset", "synthetic", "--seeds", "a"], "--seeds expects integers"),
    (["run", "--methods", "pca", "--dataset", "synthetic", "--preset", "huge"], "no preset 'huge'"),
    (["report", "--dataset", "synthetic", "--runs", "/nonexistent-runs"], "no runs folder /nonexistent-runs"),
    (["leaderboard", "--runs", "/nonexistent-runs"], "no runs folder /nonexistent-runs"),
    (["run", "--methods", "pca"], "Missing"),
])
def test_bad_input_exits_2_with_one_clear_line(args, message):
    result = bench_in_process(*args)  # main's handling; the installed script's is checked just below
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_the_installed_script_answers_bad_input_in_one_line_with_exit_2():
    result = bench("run", "--methods", "pcaa", "--dataset", "synthetic")
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.startswith("error: unknown method 'pcaa'. Did you mean pca, alad? Known: ")
    assert "ganomaly, healthygan," in result.stderr
    assert result.stderr.count("\n") == 1 and result.stdout == "", result.stdout + result.stderr


def test_unwritable_runs_folder_is_bad_input(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = bench("run", "--methods", "pca", "--dataset", "synthetic", "--root", str(tmp_path / "d"),
                   "--runs", str(blocker / "runs"), *SMALL)
    assert result.returncode == 2
    assert "cannot write to the runs folder" in result.stderr
    assert not (tmp_path / "d").exists(), "nothing should be generated before the output folder is checked"


def test_corrupt_image_is_named_and_exits_2(tmp_path):
    root = tmp_path / "data"
    assert bench("data", "prepare", "synthetic", "--root", str(root), *SMALL).returncode == 0
    victim = sorted((root / "images").glob("*.png"))[3]
    victim.write_bytes(b"garbage")
    env_cache = tmp_path / "fresh-cache"
    result = subprocess.run([BENCH, "data", "prepare", "synthetic", "--root", str(root), *SMALL],
                            capture_output=True, text=True, env={**os.environ, "BENCH_CACHE": str(env_cache)})
    assert result.returncode == 2
    assert victim.name in result.stderr and "could not be read" in result.stderr


def test_commands_that_train_nothing_import_neither_torch_nor_scikit_learn():
    """`bench data`, `report` and `leaderboard` start in ~0.5 s: torch (~1 s) and scikit-learn with scipy.stats
    (~0.7 s) are imported where they compute; `bench run` checks its arguments before scikit-learn is imported."""
    code = ("import sys\n"
            "import bench.cli, bench.data.adapter, bench.metrics.image, bench.report.report\n"
            "import bench.report.leaderboard_files\n"
            "from bench.core import registry\n"
            "for name in registry.datasets.names(): registry.get_dataset(name)\n"
            "light = sorted(m for m in ('torch', 'sklearn', 'scipy.stats') if m in sys.modules)\n"
            "import bench.runs.execute, bench.runs.sweep\n"
            "print(light, sorted(m for m in ('sklearn', 'scipy.stats') if m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] []"
