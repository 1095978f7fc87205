"""One `bench run` over several data sets (`--dataset synthetic,medad`, `--dataset all-real`): one grid, each data
set's runs in its own folders with its own split, on the local executor and on Ray; roots from `--root NAME=PATH`,
`$BENCH_DATA_<NAME>` or the config file; bad input stops with one line before anything is decoded."""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from pathlib import Path

import pytest

from bench.cli import main
from bench.core.errors import BenchError
from bench.data.selection import select_datasets
from bench.runs.sweep import plan_sweep
from tests.reliability.harness import records, run_bench, write_tree

# The same key means the same thing for both data sets (n_normal, n_test, unlabeled_size); n_val and generate_size
# only synthetic has, so they apply to it alone (and the plan says so).
SMALL = ["--set", "data.n_normal=24", "--set", "data.n_test=10", "--set", "data.unlabeled_size=0",
         "--set", "data.n_val=6", "--set", "data.generate_size=64"]
REAL = ("chestxray14", "covidx", "lag", "medad", "rsna", "vindr")
pytestmark = pytest.mark.xdist_group("multi-dataset")  # one worker writes the tree and runs the shared grid


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    """A Med-AD tree (images/ + data.json: 24 normal, 6 + 6 unlabeled, 10 + 10 test) with easy anomalies."""
    root = tmp_path_factory.mktemp("medad-tree")
    write_tree(root)
    return root


@pytest.fixture(scope="module")
def local_grid(tree, tmp_path_factory):
    """PCA on synthetic and the Med-AD tree from one command (the local executor): (runs folder, result)."""
    runs = tmp_path_factory.mktemp("multi-local") / "runs"
    result = run_bench("run", "--methods", "pca", "--dataset", "synthetic,medad", "--root", f"medad={tree}",
                       "--preset", "smoke", "--device", "cpu", "--runs", str(runs), *SMALL)
    assert result.returncode == 0, result.stderr
    return runs, result


@pytest.fixture
def isolated(monkeypatch, tmp_path) -> Path:
    """No data-set folder configured: an empty config file and no $BENCH_DATA_*; returns the config file's path."""
    for key in list(os.environ):
        if key.startswith("BENCH_DATA_"):
            monkeypatch.delenv(key)
    config = tmp_path / "config.toml"
    config.write_text("")
    monkeypatch.setenv("BENCH_CONFIG", str(config))
    return config


def bench_in_process(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    """The console script's `main` with ARGS, in this process: (exit code, stdout, stderr)."""
    monkeypatch.setattr(sys, "argv", ["bench", *args])
    previous = signal.getsignal(signal.SIGTERM)
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    finally:
        signal.signal(signal.SIGTERM, previous)
    out, err = capsys.readouterr()
    return code, out, err


def printed_splits(stdout: str) -> dict[str, str]:
    """{data set: split id} from the results tables' titles."""
    return dict(re.findall(r"(\w+) \(split (\w+)\), test split", stdout))


def test_two_data_sets_run_from_one_command_each_with_its_own_split(local_grid):
    runs, result = local_grid
    by_dataset = {r["dataset"]: r for r in records(runs)}
    assert sorted(by_dataset) == ["medad", "synthetic"]
    assert all(r["method"] == "pca" and r["status"] == "complete" for r in by_dataset.values())
    assert sorted(p.relative_to(runs).parts[:2] for p in runs.glob("*/*/*/run.json")) == [
        ("medad", "pca"), ("synthetic", "pca")]
    splits = printed_splits(result.stdout)  # one table per data set, titled with its split
    assert set(splits) == {"synthetic", "medad"}
    for name, record in by_dataset.items():
        assert record["data"]["split_id"].startswith(splits[name])
    assert splits["synthetic"] != splits["medad"]
    assert by_dataset["medad"]["data"]["counts"]["train_normal"] == {"0": 24}
    assert by_dataset["medad"]["data_overrides"] == {"n_normal": "24", "n_test": "10", "unlabeled_size": "0"}
    assert by_dataset["synthetic"]["data_overrides"]["n_val"] == "6"


def test_the_plan_names_the_data_sets_and_where_a_data_key_applies(local_grid, tree):
    _, result = local_grid
    assert f"medad [{tree} (--root)]" in result.stdout
    assert "--set data.n_val applies to synthetic only (medad: no such key)" in result.stdout


def test_a_data_set_of_the_grid_run_alone_is_the_same_run(local_grid, tree, monkeypatch, capsys):
    runs, _ = local_grid
    code, out, err = bench_in_process(monkeypatch, capsys, "run", "--methods", "pca", "--dataset", "medad", "--root",
                                      str(tree), "--preset", "smoke", "--device", "cpu", "--runs", str(runs), "--set",
                                      "data.n_normal=24", "--set", "data.n_test=10", "--set", "data.unlabeled_size=0")
    assert code == 0, err
    assert "done before" in out and "data sets:" not in out and len(records(runs)) == 2


@pytest.mark.slow
def test_the_two_data_set_grid_on_ray_writes_the_local_runs(local_grid, tree, tmp_path):
    pytest.importorskip("ray", reason="the ray extra is part of the test extras; install it")
    local_runs, local = local_grid
    runs = tmp_path / "runs"
    remote = run_bench("run", "--methods", "pca", "--dataset", "synthetic,medad", "--root", f"medad={tree}",
                       "--preset", "smoke", "--device", "cpu", "--runs", str(runs), "--executor", "ray", *SMALL)
    assert remote.returncode == 0, remote.stderr
    folders = {p.relative_to(runs) for p in runs.glob("*/*/*/scores.parquet")}
    assert len(folders) == 2
    assert folders == {p.relative_to(local_runs) for p in local_runs.glob("*/*/*/scores.parquet")}
    assert printed_splits(remote.stdout) == printed_splits(local.stdout)
    assert {r["dataset"]: r["data"]["split_id"] for r in records(runs)} == {
        r["dataset"]: r["data"]["split_id"] for r in records(local_runs)}


def test_all_real_runs_every_data_set_whose_folder_the_config_file_names(isolated, tree, tmp_path, monkeypatch,
                                                                         capsys):
    isolated.write_text(f'[data]\nmedad = "{tree}"\n')
    runs = tmp_path / "runs"
    code, out, err = bench_in_process(monkeypatch, capsys, "run", "--methods", "pca", "--dataset", "all-real",
                                      "--preset", "smoke", "--device", "cpu", "--runs", str(runs))
    assert code == 0, err
    assert f"data sets: medad [{tree} (config {isolated})]" in out
    assert "left out (no folder configured): chestxray14, covidx, lag, rsna, vindr" in out
    assert [(r["dataset"], r["status"]) for r in records(runs)] == [("medad", "complete")]
    assert json.loads(next(runs.glob("medad/pca/*/run.json")).read_text())["data"]["root"] == str(tree.resolve())


def test_all_real_takes_folders_from_the_environment_and_dry_runs_beside_synthetic(isolated, tree, tmp_path,
                                                                                   monkeypatch, capsys):
    monkeypatch.setenv("BENCH_DATA_MEDAD", str(tree))
    runs = tmp_path / "runs"
    code, out, err = bench_in_process(monkeypatch, capsys, "run", "--methods", "pca", "--dataset",
                                      "synthetic,all-real", "--preset", "smoke", "--device", "cpu", "--runs",
                                      str(runs), "--dry-run", *SMALL)
    assert code == 0, err
    assert "synthetic [generated in BENCH_CACHE], medad" in out and "$BENCH_DATA_MEDAD" in out
    assert "left out (no folder configured): chestxray14, covidx, lag, rsna, vindr" in out
    assert "synthetic: protocol" in out and "medad: protocol" in out  # each data set's shape, then one table
    assert "2 run(s)" in out
    assert not runs.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--dataset", "synthetic,medad"], "no folder for data set 'medad': pass --root medad=PATH, set "
                                       "BENCH_DATA_MEDAD=PATH, or add medad"),
    (["--dataset", "synthetic,medad", "--root", "medad=/nonexistent-medad"],
     "data folder /nonexistent-medad for 'medad' does not exist"),
    (["--dataset", "medad,rsna", "--root", "/somewhere"], "--root /somewhere is ambiguous with data sets medad, rsna"),
    (["--dataset", "synthetic,medad", "--root", "/a", "--root", "/b"], "--root is given 2 plain paths"),
    (["--dataset", "synthetic,medad", "--root", "rsna=/a"], "rsna is not among the selected data sets"),
    (["--dataset", "all-real"], "--dataset all-real: no data set has a folder configured"),
    (["--dataset", "all-real", "--root", "/a"], "--root /a is ambiguous"),
    (["--dataset", "synthetic,medad", "--set", "data.nosuch=1"], "--set data.nosuch: none of the data sets "
                                                                 "synthetic, medad has this key"),
    (["--dataset", "synthetic,medad", "--set", "data.n_test=0"], "data set synthetic (data.*)"),
    (["--dataset", "synthetic,medad", "--set", "data.rgb=maybe"], "data set medad: rgb='maybe' is not a boolean"),
    (["--dataset", "synthetic,medadd"], "Did you mean medad"),
    (["--dataset", " , "], "--dataset is empty"),
])
def test_bad_input_is_one_line_and_exit_2_before_anything_is_written(args, message, isolated, tmp_path,
                                                                     monkeypatch, capsys):
    if "all-real" in args and "/a" in args:
        monkeypatch.setenv("BENCH_DATA_MEDAD", str(tmp_path))
    runs = tmp_path / "runs"
    code, _, err = bench_in_process(monkeypatch, capsys, "run", "--methods", "pca", "--runs", str(runs), *args)
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert message in " ".join(err.split()), err
    assert not runs.exists()


@pytest.mark.slow  # a second start of the script (~3 s); main() in-process covers the cases above
def test_the_real_script_exits_2_with_one_line(tmp_path):
    result = run_bench("run", "--methods", "pca", "--dataset", "synthetic,medad", "--root", "x=/a", "--root",
                       "/b", "--runs", str(tmp_path / "runs"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == ["error: --root is given 2 plain paths (x=/a, /b); with several "
                                                  "data sets give each its own: --root NAME=PATH"]


def test_one_data_set_keeps_its_plain_root_even_with_an_equals_sign():
    assert select_datasets("synthetic", ["out/a=b"]).roots == {"synthetic": Path("out/a=b")}
    assert select_datasets("medad", ["medad=/t"]).roots == {"medad": Path("/t")}


def test_a_plain_root_goes_to_the_one_data_set_that_reads_a_folder():
    selection = select_datasets("synthetic,medad", ["/t"])
    assert selection.names == ["synthetic", "medad"] and selection.roots == {"medad": Path("/t")}
    with pytest.raises(BenchError, match="ambiguous"):
        select_datasets("synthetic,medad", ["/t", "medad=/u"])


def test_the_grid_is_every_point_on_every_data_set_with_data_keys_where_they_exist():
    grid = plan_sweep(["pca"], ["synthetic", "medad"], [0, 1], "smoke",
                      ["n_components=2,4", "data.n_val=6,8", "data.n_test=5"])
    medad = [s for s in grid.specs if s.dataset == "medad"]
    synthetic = [s for s in grid.specs if s.dataset == "synthetic"]
    assert len(synthetic) == 2 * 2 * 2  # seeds x n_components x n_val
    assert len(medad) == 2 * 2  # n_val does not reach medad: its points share runs, each planned once
    assert all(s.data_overrides == {"n_test": "5"} for s in medad)
    assert sum(grid.runs_per_point) == len(grid.specs) == 12
    assert [dict(d)["n_val"] if "n_val" in d else None for d, _ in grid.groups()] == ["6", "8", None]  # by data set
    assert grid.notes() == ["--set data.n_val applies to synthetic only (medad: no such key)"]


def test_one_data_set_keeps_the_single_data_set_error():
    with pytest.raises(BenchError, match=r"unknown key\(s\) nosuch for data set synthetic"):
        plan_sweep(["pca"], "synthetic", [0], "smoke", ["data.nosuch=1"])
