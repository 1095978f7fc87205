"""Defect 3: reports and the leaderboard name every run folder they leave out; --strict makes that an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reliability.harness import one_line_error, run_bench, write_tree

pytestmark = pytest.mark.xdist_group("damaged-runs")  # one worker builds the module's `damaged` once (make test -n)


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Three seeds of PCA; one run.json truncated, one scores.parquet deleted. Returns (runs, damaged folders)."""
    base = tmp_path_factory.mktemp("damaged")
    write_tree(base / "tree")
    runs = base / "runs"
    result = run_bench("run", "--methods", "pca", "--dataset", "medad", "--preset", "smoke", "--seeds", "0,1,2",
                       "--root", str(base / "tree"), "--runs", str(runs), env={"BENCH_CACHE": str(base / "cache")})
    assert result.returncode == 0, result.stderr
    folders = sorted(runs.glob("medad/pca/*"))
    assert len(folders) == 3
    text = (folders[0] / "run.json").read_text()
    (folders[0] / "run.json").write_text(text[: len(text) // 2])
    (folders[1] / "scores.parquet").unlink()
    return runs, folders[:2]


def test_report_names_each_skipped_run_and_why(damaged):
    runs, (truncated, no_scores) = damaged
    result = run_bench("report", "--dataset", "medad", "--runs", str(runs))
    assert result.returncode == 0
    warnings = [line for line in one_line_error(result).splitlines() if line.startswith("warning: skipped")]
    assert len(warnings) == 2, result.stderr
    assert any(str(truncated) in w and "truncated or not JSON" in w for w in warnings)
    assert any(str(no_scores) in w and "scores.parquet is missing" in w for w in warnings)
    assert "over 1 seed" in result.stdout, result.stdout


@pytest.mark.parametrize("command", [["report", "--dataset", "medad"], ["leaderboard"], ["plot", "--dataset", "medad"]])
def test_strict_turns_a_skipped_run_into_exit_1(damaged, tmp_path, command):
    runs, _ = damaged
    extra = ["--to", str(tmp_path)] if command[0] in ("leaderboard", "plot") else []
    result = run_bench(*command, "--runs", str(runs), *extra, "--strict")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "--strict: 2 run folder(s) left out" in one_line_error(result)


def test_leaderboard_of_a_missing_runs_folder_is_bad_input(tmp_path):
    result = run_bench("leaderboard", "--runs", str(tmp_path / "nonexistent"), "--to", str(tmp_path / "board"))
    assert result.returncode == 2
    assert "no runs folder" in one_line_error(result)
    assert not (tmp_path / "board" / "leaderboard.md").exists(), "no empty board is written"


def test_leaderboard_without_reported_csv_still_shows_the_papers_rows(damaged, tmp_path):
    runs, _ = damaged
    result = run_bench("leaderboard", "--runs", str(runs), "--to", str(tmp_path))
    assert result.returncode == 0, result.stderr
    board = (tmp_path / "leaderboard.md").read_text()
    assert "not reproduced yet" in board and "SAGAN" in board
