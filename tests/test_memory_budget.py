"""`bench run --dry-run` refuses, in one line with exit 2, a plan whose predicted host memory exceeds the budget
($BENCH_MEMORY_BUDGET_GB, default 16 GB), and names what to change."""

from __future__ import annotations

import re

from bench.runs.dry_run import BUDGET_ENV
from tests.cli_helpers import bench_in_process

ARGS = ("run", "--methods", "pca", "--dataset", "synthetic", "--preset", "tiny", "--device", "cpu", "--dry-run")


def test_a_plan_over_the_budget_is_refused_in_one_line():
    result = bench_in_process(*ARGS, env={BUDGET_ENV: "0.05", "COLUMNS": "200"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "1 planned run(s) need more host memory than the 0.05 GB budget (pca on synthetic" in lines[0]
    assert "--set data.size=N" in lines[0] and BUDGET_ENV in lines[0]
    predicted = float(re.search(r"pca about (\d+\.\d) GB", lines[0]).group(1))
    assert predicted > 0.05
    assert "est. wall" in result.stdout  # the estimates are printed before the refusal


def test_a_plan_within_the_budget_runs_and_a_bad_budget_is_named():
    assert bench_in_process(*ARGS, env={BUDGET_ENV: "64"}).returncode == 0
    bad = bench_in_process(*ARGS, env={BUDGET_ENV: "lots"})
    assert bad.returncode == 2 and f"{BUDGET_ENV} must be a positive number of GB, got 'lots'" in bad.stderr


def test_patchcore_goes_through_the_budget():
    """PatchCore's estimate (its bank, projection and coreset: probe.patchcore_memory_bytes) is checked too."""
    args = ("run", "--methods", "patchcore", "--dataset", "synthetic", "--preset", "tiny", "--device", "cpu",
            "--dry-run")
    result = bench_in_process(*args, env={BUDGET_ENV: "0.05", "COLUMNS": "200"})
    assert result.returncode == 2
    assert "(patchcore on synthetic; patchcore about" in result.stderr
    assert "patchcore keep every training patch feature" in result.stderr
