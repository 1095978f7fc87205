"""Issue 28, case 11 (the smaller ones): lists bench does not read in data.json, PCA's n_components=2.5, a key given
twice in --set, accel=on with nothing to turn on, --root naming a file and a run.json that is a FIFO: each a clear
line, never silence or a hang."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import one_line_error, run_bench, write_tree

PCA = ["run", "--methods", "pca", "--dataset", "medad", "--preset", "tiny"]


def test_an_unknown_list_in_data_json_is_named(tmp_path, cache):
    lists = write_tree(tmp_path / "tree")
    data = json.loads((tmp_path / "tree" / "data.json").read_text())
    data["test"]["2"] = lists["test/1"][:2]
    (tmp_path / "tree" / "data.json").write_text(json.dumps(data))
    result = bench_in_process("data", "verify", "medad", "--root", str(tmp_path / "tree"), env=cache)
    assert result.returncode == 1 and "test/2" in result.stderr, result.stdout + result.stderr


@pytest.mark.parametrize(("sets", "said"), [
    (["n_components=2.5"], "whole number"),
    (["n_components=4", "n_components=8"], "given twice"),
], ids=["fractional-count", "key-twice"])
def test_ambiguous_settings_are_refused(tmp_path, cache, sets, said):
    write_tree(tmp_path / "tree")
    args = [arg for item in sets for arg in ("--set", item)]
    result = bench_in_process(*PCA, *args, "--root", str(tmp_path / "tree"), "--runs", str(tmp_path / "runs"),
                              env=cache)
    assert result.returncode == 2 and said in result.stderr, result.stdout + result.stderr
    assert not list((tmp_path / "runs").glob("*/*/*"))


@pytest.mark.parametrize("method", ["healthygan", "ddad", "nsa", "fanogan"])
def test_accel_on_with_every_speed_feature_off_is_refused(tmp_path, cache, method):
    """The smoke presets turn amp and channels_last off (compile is off by default): accel=on would do nothing."""
    write_tree(tmp_path / "tree")
    result = bench_in_process("run", "--methods", method, "--dataset", "medad", "--preset", "smoke", "--set",
                              "accel=on", "--root", str(tmp_path / "tree"), "--runs", str(tmp_path / "runs"), env=cache)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "accel=on" in result.stderr and "--set amp=true" in result.stderr
    assert not list((tmp_path / "runs").glob("*/*/*"))


def test_accel_on_with_a_speed_feature_on_is_planned():
    import bench

    planned = bench.plan(["healthygan"], "synthetic", preset="smoke", settings={"accel": "on", "amp": True})
    assert [spec.overrides["accel"] for spec in planned.grid.specs] == ["on"]


def test_root_naming_a_file_says_so(tmp_path, cache):
    (tmp_path / "data.json").write_text("{}")
    result = run_bench(*PCA, "--root", str(tmp_path / "data.json"), "--runs", str(tmp_path / "runs"), env=cache)
    assert result.returncode == 2
    assert "is a file, not a folder" in one_line_error(result)


def test_a_run_json_that_is_a_fifo_is_named_not_waited_on(tmp_path, cache):
    write_tree(tmp_path / "tree")
    runs = tmp_path / "runs"
    assert bench_in_process(*PCA, "--seeds", "0,1", "--root", str(tmp_path / "tree"), "--runs", str(runs),
                            env=cache).returncode == 0
    folder = sorted(runs.glob("medad/pca/*"))[0]
    shutil.move(folder / "run.json", tmp_path / "saved.json")
    os.mkfifo(folder / "run.json")
    result = run_bench("report", "--dataset", "medad", "--runs", str(runs), timeout=60)
    assert result.returncode == 0, result.stderr
    assert str(folder) in one_line_error(result) and "not a regular file" in result.stderr


def test_the_resume_line_of_a_copied_tree_names_the_copy(tmp_path, cache):
    write_tree(tmp_path / "tree")
    runs = tmp_path / "runs"
    assert bench_in_process(*PCA, "--root", str(tmp_path / "tree"), "--runs", str(runs), env=cache).returncode == 0
    (folder,) = runs.glob("medad/pca/*")
    record = json.loads((folder / "run.json").read_text())
    record["status"] = "running"  # as a killed run leaves it (no process holds its lock: interrupted)
    (folder / "run.json").write_text(json.dumps(record))
    shutil.copytree(runs, tmp_path / "copied")
    shutil.rmtree(runs)
    result = bench_in_process("report", "--dataset", "medad", "--runs", str(tmp_path / "copied"))
    line = next(line for line in result.stderr.splitlines() if "resume with" in line)
    assert f"--runs {tmp_path / 'copied'}" in line and f"--runs {runs} " not in line + " ", line
