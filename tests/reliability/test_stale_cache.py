"""Defect 2: the decoded-image cache must notice files that changed under it."""

from __future__ import annotations

import json
import re

import numpy as np
from PIL import Image

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import image, one_line_error, records, run_bench, write_tree

PREPARE = ["data", "prepare", "medad"]
PCA = ["run", "--methods", "pca", "--dataset", "medad", "--preset", "smoke"]


def test_overwritten_images_are_decoded_again_and_change_the_result(tmp_path, cache):
    lists = write_tree(tmp_path / "tree")
    root = ["--root", str(tmp_path / "tree")]
    runs = ["--runs", str(tmp_path / "runs")]
    assert bench_in_process(*PCA, *root, *runs, env=cache).returncode == 0  # fills the cache; then new processes
    (before,) = records(tmp_path / "runs")
    assert before["metrics"]["auc"] > 0.95
    rng = np.random.default_rng(99)
    for name in lists["test/1"]:  # the abnormal test images become normal ones, under the same names
        Image.fromarray(image(rng, abnormal=False)).save(tmp_path / "tree" / "images" / name)
    prepared = run_bench(*PREPARE, *root, env=cache)
    assert prepared.returncode == 0, prepared.stderr
    assert re.search(rf"re-decoded {len(lists['test/1'])} of \d+ images", prepared.stdout), prepared.stdout
    again = run_bench(*PCA, *root, *runs, env=cache)
    assert again.returncode == 0 and "done before" not in again.stdout
    after = [r for r in records(tmp_path / "runs") if r["run_id"] != before["run_id"]]
    assert len(after) == 1 and after[0]["data"]["images_id"] != before["data"]["images_id"]
    assert after[0]["metrics"]["auc"] < 0.9, "the abnormal images are gone: the old AUC must not come back"


def test_unchanged_files_are_not_decoded_again(tmp_path, cache):
    write_tree(tmp_path / "tree")
    assert run_bench(*PREPARE, "--root", str(tmp_path / "tree"), env=cache).returncode == 0
    again = run_bench(*PREPARE, "--root", str(tmp_path / "tree"), env=cache)
    assert again.returncode == 0 and "re-decoded" not in again.stdout


def test_an_emptied_file_is_named_not_served_from_the_cache(tmp_path, cache):
    lists = write_tree(tmp_path / "tree")
    assert run_bench(*PREPARE, "--root", str(tmp_path / "tree"), env=cache).returncode == 0
    victim = tmp_path / "tree" / "images" / lists["test/0"][2]
    victim.write_bytes(b"")
    result = run_bench(*PCA, "--root", str(tmp_path / "tree"), "--runs", str(tmp_path / "runs"), env=cache)
    assert result.returncode == 2
    assert victim.name in one_line_error(result)
    assert not list((tmp_path / "runs").glob("*/*/*/run.json")), "no run starts on data that cannot be read"
    info = json.loads(next((tmp_path / "cache").glob("medad/*/complete.json")).read_text())
    assert "images_id" in info
