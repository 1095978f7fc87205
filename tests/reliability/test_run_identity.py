"""Defect 1: a second data tree in the same runs folder must be a new run, never "done before". The runs go
through bench.cli.main in the test's process (what they compute and write is the point, not the process: the
refusal below and the rest of the reliability suite run the installed script)."""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
from PIL import Image

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import one_line_error, records, run_bench, write_lists, write_tree

PCA = ["run", "--methods", "pca", "--dataset", "medad", "--preset", "smoke"]


def test_a_second_tree_is_a_new_run_with_its_own_numbers(tmp_path, cache):
    write_tree(tmp_path / "a", seed=0)
    lists = write_tree(tmp_path / "b", seed=1)
    write_lists(tmp_path / "b", {**lists, "test/1": lists["test/1"][:5]})  # another split: 5 abnormal test images
    runs = tmp_path / "runs"
    first = bench_in_process(*PCA, "--root", str(tmp_path / "a"), "--runs", str(runs), env=cache)
    second = bench_in_process(*PCA, "--root", str(tmp_path / "b"), "--runs", str(runs), env=cache)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert "done before" not in second.stdout
    found = records(runs)
    assert len(found) == 2
    assert {r["data"]["root"] for r in found} == {str((tmp_path / d).resolve()) for d in "ab"}
    assert len({r["data"]["split_id"] for r in found}) == 2
    for record in found:
        assert record["data"]["split_id"][:8] in record["run_id"], "the folder name shows the split hash"
    assert sorted(sum(r["data"]["counts"]["test"].values()) for r in found) == [15, 20]


def test_same_file_names_with_other_pixels_is_a_new_run(tmp_path, cache):
    write_tree(tmp_path / "a", seed=0)
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    victim = sorted((tmp_path / "b" / "images").glob("test_1_*.png"))[0]
    Image.fromarray(np.full((32, 32), 100, np.uint8)).save(victim)
    runs = tmp_path / "runs"
    assert bench_in_process(*PCA, "--root", str(tmp_path / "a"), "--runs", str(runs), env=cache).returncode == 0
    second = bench_in_process(*PCA, "--root", str(tmp_path / "b"), "--runs", str(runs), env=cache)
    assert second.returncode == 0 and "done before" not in second.stdout
    found = records(runs)
    assert len({r["data"]["split_id"] for r in found}) == 1, "same names and labels: the same split"
    assert len({r["data"]["images_id"] for r in found}) == 2, "different pixels: different data"


def test_report_keeps_two_splits_apart_and_says_which_is_which(tmp_path, cache):
    write_tree(tmp_path / "a", seed=0)
    lists = write_tree(tmp_path / "b", seed=1)
    write_lists(tmp_path / "b", {**lists, "test/0": lists["test/0"][:7]})
    runs = tmp_path / "runs"
    for tree in "ab":
        assert bench_in_process(*PCA, "--root", str(tmp_path / tree), "--runs", str(runs), env=cache).returncode == 0
    report = bench_in_process("report", "--dataset", "medad", "--runs", str(runs), "--format", "csv")
    assert report.returncode == 0, report.stderr
    split_ids = {r["data"]["split_id"][:8] for r in records(runs)}
    assert len(split_ids) == 2
    for split_id in split_ids:  # one row label per split, never one mean over both
        assert f"pca [split {split_id}]" in report.stdout, report.stdout


def test_a_synthetic_root_generated_with_other_settings_is_refused_not_reused(tmp_path, cache):
    small = ["--set", "data.n_normal=20", "--set", "data.unlabeled_size=0", "--set", "data.n_val=2",
             "--set", "data.n_test=4", "--set", "data.generate_size=32"]
    root = ["--root", str(tmp_path / "syn")]
    assert run_bench("data", "prepare", "synthetic", *root, *small, env=cache).returncode == 0
    other = run_bench("data", "prepare", "synthetic", *root, *small, "--set", "data.anomaly_ratio=0.2", env=cache)
    assert other.returncode == 2
    assert "generated with other settings" in one_line_error(other)


def test_a_run_of_a_preset_that_has_changed_since_is_run_again_not_done_before(tmp_path, cache):
    """The folder name holds the preset's name and the overrides, not the preset's values: a newer bench whose
    `smoke` differs (here: the record says an older smoke kept 80 % of the variance) must not report the old
    numbers as this configuration's."""
    write_tree(tmp_path / "tree")
    runs = tmp_path / "runs"
    args = [*PCA, "--root", str(tmp_path / "tree"), "--runs", str(runs)]
    assert bench_in_process(*args, env=cache).returncode == 0
    run_json = next(runs.glob("medad/pca/*/run.json"))
    record = json.loads(run_json.read_text())
    record["config"]["n_components"] = 0.8
    run_json.write_text(json.dumps(record))
    again = bench_in_process(*args, env=cache)
    assert again.returncode == 0, again.stderr
    assert "done before" not in again.stdout
    assert "preset 'smoke' has changed since" in again.stdout + again.stderr
    assert "n_components 0.8 -> 0.95" in again.stdout + again.stderr
    assert [r["config"]["n_components"] for r in records(runs)] == [0.95], "the run was redone in its folder"
    third = bench_in_process(*args, env=cache)
    assert "done before" in third.stdout, "a run of the current preset is found as before"


def test_seeds_that_ran_other_preset_values_are_not_averaged_together(tmp_path, cache):
    """Seed 0 ran an older `smoke` (edited record: 80 % of the variance), seed 1 today's: a report must not print
    their mean as one configuration's; the older run is named and left out."""
    write_tree(tmp_path / "tree")
    runs = tmp_path / "runs"
    for seed in ("0", "1"):
        done = bench_in_process(*PCA, "--seeds", seed, "--root", str(tmp_path / "tree"), "--runs", str(runs),
                                env=cache)
        assert done.returncode == 0, done.stderr
        if seed == "0":
            run_json = next(runs.glob("medad/pca/*seed0*/run.json"))
            record = json.loads(run_json.read_text())
            record["config"]["n_components"] = 0.8
            run_json.write_text(json.dumps(record))
    report = run_bench("report", "--dataset", "medad", "--runs", str(runs), "--format", "csv")
    assert report.returncode == 0, report.stderr
    assert "seed0" in report.stderr and "n_components 0.8 (kept: 0.95)" in report.stderr
    rows = list(csv.DictReader(io.StringIO(report.stdout)))
    assert rows and {(r["n_seeds"], r["seeds"]) for r in rows} == {("1", "1")}, report.stdout
