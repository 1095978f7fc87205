"""Issue 28, case 3: reports check run.json's image metrics against scores.parquet. A record whose metrics
disagree with its scores, lie outside [0, 1], are NaN or not numbers is left out and named like a damaged run; two
copies of one run with different metrics are named, never merged silently."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import one_line_error, run_bench, write_tree

pytestmark = pytest.mark.xdist_group("metric-records")


@pytest.fixture(scope="module")
def three_seeds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A runs folder with three seeds of PCA (tiny) on a Med-AD tree; tests copy it before editing."""
    base = tmp_path_factory.mktemp("metric-records")
    write_tree(base / "tree")
    runs = base / "runs"
    result = bench_in_process("run", "--methods", "pca", "--dataset", "medad", "--preset", "tiny", "--seeds",
                              "0,1,2", "--root", str(base / "tree"), "--runs", str(runs),
                              env={"BENCH_CACHE": str(base / "cache")})
    assert result.returncode == 0, result.stderr
    return runs


def edited_copy(runs: Path, target: Path, seed: int, edit) -> Path:
    """A copy of `runs` whose run of `seed` has its run.json edited by hand; that run's folder."""
    shutil.copytree(runs, target)
    (folder,) = [f for f in target.glob("medad/pca/*") if f"-seed{seed}-" in f.name]
    record = json.loads((folder / "run.json").read_text())
    edit(record["metrics"])
    (folder / "run.json").write_text(json.dumps(record))
    return folder


def skipped_lines(result) -> list[str]:
    return [line for line in one_line_error(result).splitlines() if line.startswith("warning: skipped")]


@pytest.mark.parametrize(("edit", "why"), [
    (lambda m: m.update(auc=1.5), "auc 1.5 is outside [0, 1]"),
    (lambda m: m.update(auc=0.5), "auc 0.5 disagrees with scores.parquet"),
    (lambda m: m.update(f1=m["f1"] / 2 + 0.01), "f1"),
    (lambda m: m.update(ap=float("nan")), "ap is NaN"),
    (lambda m: m.update(recall="0.9"), "recall is not a number"),
], ids=["out-of-range", "disagrees", "f1-disagrees", "nan", "string"])
def test_an_edited_metric_is_left_out_and_named(three_seeds, tmp_path, edit, why):
    folder = edited_copy(three_seeds, tmp_path / "runs", 1, edit)
    for command in (["report", "--dataset", "medad"], ["report", "--dataset", "medad", "--ci"]):
        result = run_bench(*command, "--runs", str(tmp_path / "runs"))
        assert result.returncode == 0, result.stderr
        (line,) = skipped_lines(result)
        assert str(folder) in line and why in line, line
        assert "over 2 seeds" in result.stdout, result.stdout
        assert "1.167" not in result.stdout
    strict = run_bench("leaderboard", "--runs", str(tmp_path / "runs"), "--to", str(tmp_path / "board"), "--strict")
    assert strict.returncode == 1 and str(folder) in one_line_error(strict)


def test_two_copies_of_one_run_with_different_metrics_are_named(three_seeds, tmp_path):
    """Both copies agree with their own scores (B's is another attempt: its test normals score highest), so
    neither is damaged; which one the report keeps is a rule, and the other is named."""
    import pandas as pd
    from sklearn.metrics import average_precision_score, roc_auc_score

    from bench.metrics.image import threshold_metrics

    shutil.copytree(three_seeds, tmp_path / "A")
    shutil.copytree(three_seeds, tmp_path / "B")
    (folder_b,) = [f for f in (tmp_path / "B").glob("medad/pca/*") if "-seed1-" in f.name]
    scores = pd.read_parquet(folder_b / "scores.parquet")
    test = scores["split"] == "test"
    scores.loc[test & (scores["label"] == 0), "score"] = scores.loc[test, "score"].max() + 1.0
    scores.to_parquet(folder_b / "scores.parquet", index=False)
    record = json.loads((folder_b / "run.json").read_text())
    labels, values = scores.loc[test, "label"].to_numpy(), scores.loc[test, "score"].to_numpy()
    record["metrics"].update(auc=roc_auc_score(labels, values), ap=average_precision_score(labels, values),
                             **threshold_metrics(labels, values, record["metrics"]["threshold"]))
    (folder_b / "run.json").write_text(json.dumps(record))
    result = run_bench("report", "--dataset", "medad", "--runs", str(tmp_path / "A"), "--runs", str(tmp_path / "B"))
    assert result.returncode == 0, result.stderr
    (line,) = [w for w in one_line_error(result).splitlines() if "different metrics" in w]
    assert folder_b.name in line and str(tmp_path / "A") in line and str(tmp_path / "B") in line, line
