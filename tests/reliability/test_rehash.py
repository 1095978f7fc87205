"""Issue 28, case 4: files replaced by others of the same size and modification time slip past the cache's stat
check; `bench data prepare --rehash` (and `bench run --force`) hash the file bytes and decode again what differs."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
from PIL import Image

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import image, records, run_bench, write_tree

PCA = ["run", "--methods", "pca", "--dataset", "medad", "--preset", "tiny"]


def same_size_tree(root: Path) -> dict[str, list[str]]:
    """write_tree, every PNG stored uncompressed: files of one image size then have one byte length."""
    lists = write_tree(root)
    for path in (root / "images").iterdir():
        Image.open(path).save(path, compress_level=0)
    return lists


def swap_in_normals(root: Path, names: list[str]) -> None:
    """Replace each file by a normal image of the same byte length, keeping its modification time."""
    rng = np.random.default_rng(99)
    for name in names:
        path = root / "images" / name
        before = os.stat(path)
        Image.fromarray(image(rng, abnormal=False)).save(path, compress_level=0)
        assert os.stat(path).st_size == before.st_size
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_rehash_decodes_again_what_a_same_size_same_mtime_swap_hid(tmp_path, cache):
    lists = same_size_tree(tmp_path / "tree")
    root, runs = ["--root", str(tmp_path / "tree")], ["--runs", str(tmp_path / "runs")]
    assert bench_in_process(*PCA, *root, *runs, env=cache).returncode == 0
    (before,) = records(tmp_path / "runs")
    assert before["metrics"]["auc"] > 0.95
    swap_in_normals(tmp_path / "tree", lists["test/1"])
    plain = bench_in_process("data", "prepare", "medad", *root, env=cache)
    assert plain.returncode == 0 and "re-decoded" not in plain.stdout, "the stat check cannot see this swap"
    rehashed = run_bench("data", "prepare", "medad", *root, "--rehash", env=cache)
    assert rehashed.returncode == 0, rehashed.stderr
    assert re.search(rf"re-decoded {len(lists['test/1'])} of 56 images", rehashed.stdout), rehashed.stdout
    again = bench_in_process(*PCA, *root, *runs, env=cache)
    assert again.returncode == 0, again.stderr
    (after,) = [r for r in records(tmp_path / "runs") if r["run_id"] != before["run_id"]]
    assert after["metrics"]["auc"] < 0.9


def test_force_checks_the_contents_too(tmp_path, cache):
    lists = same_size_tree(tmp_path / "tree")
    root, runs = ["--root", str(tmp_path / "tree")], ["--runs", str(tmp_path / "runs")]
    assert bench_in_process(*PCA, *root, *runs, env=cache).returncode == 0
    (before,) = records(tmp_path / "runs")
    swap_in_normals(tmp_path / "tree", lists["test/1"])
    forced = bench_in_process(*PCA, *root, *runs, "--force", env=cache)
    assert forced.returncode == 0, forced.stderr
    assert "re-decoded 10 of 56 images" in forced.stdout
    (after,) = [r for r in records(tmp_path / "runs") if r["run_id"] != before["run_id"]]
    assert after["data"]["images_id"] != before["data"]["images_id"] and after["metrics"]["auc"] < 0.9
