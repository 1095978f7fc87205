"""Defects 5, 6 and 9: permissions, label-file entries outside the data folder, and files that do not decode."""

from __future__ import annotations

import json
import shutil

import pytest
from PIL import Image

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import one_line_error, records, run_bench, write_tree

PCA = ["run", "--methods", "pca", "--dataset", "medad", "--preset", "smoke"]
needs_setpriv = pytest.mark.skipif(shutil.which("setpriv") is None, reason="util-linux setpriv is not installed")


@needs_setpriv
def test_read_only_cache_is_one_line_naming_the_folder(tmp_path):
    write_tree(tmp_path / "tree")
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o555)
    result = run_bench(*PCA, "--root", str(tmp_path / "tree"), "--runs", str(tmp_path / "runs"),
                       env={"BENCH_CACHE": str(cache)}, unprivileged=True)
    assert result.returncode == 2, result.stdout + result.stderr
    message = one_line_error(result)
    assert "permission denied" in message and str(cache) in message and "BENCH_CACHE" in message


@needs_setpriv
def test_read_only_run_folder_is_one_line_naming_it(tmp_path, cache):
    write_tree(tmp_path / "tree")
    runs = tmp_path / "runs"
    assert bench_in_process(*PCA, "--root", str(tmp_path / "tree"), "--runs", str(runs), env=cache).returncode == 0
    (folder,) = runs.glob("medad/pca/*")
    for path in (folder, *folder.iterdir()):
        path.chmod(0o555 if path.is_dir() else 0o444)
    result = run_bench(*PCA, "--root", str(tmp_path / "tree"), "--runs", str(runs), "--force", env=cache,
                       unprivileged=True)
    assert result.returncode == 2, result.stdout + result.stderr
    message = one_line_error(result)
    assert "permission denied" in message and folder.name in message


def test_entries_outside_the_tree_are_refused_unless_allowed(tmp_path, cache):
    lists = write_tree(tmp_path / "tree")
    outside = tmp_path / "outside.png"
    shutil.copy(tmp_path / "tree" / "images" / lists["test/0"][0], outside)
    shutil.copy(outside, tmp_path / "elsewhere.png")
    data = json.loads((tmp_path / "tree" / "data.json").read_text())
    data["test"]["0"][0] = "../../outside.png"
    data["test"]["0"][1] = str(tmp_path / "elsewhere.png")  # an absolute name
    (tmp_path / "tree" / "data.json").write_text(json.dumps(data))
    root = ["--root", str(tmp_path / "tree")]
    verify = bench_in_process("data", "verify", "medad", *root, env=cache)  # the run below is the installed script
    run = run_bench(*PCA, *root, "--runs", str(tmp_path / "runs"), env=cache)
    for result in (verify, run):
        assert result.returncode == 2, result.stdout + result.stderr
        message = one_line_error(result)
        assert "images/../../outside.png" in message and "2 label-file entr" in message
        assert "data.allow_outside_root=true" in message
    allowed = bench_in_process(*PCA, *root, "--runs", str(tmp_path / "runs"), "--set",
                               "data.allow_outside_root=true", env=cache)
    assert allowed.returncode == 0, allowed.stderr
    assert len(records(tmp_path / "runs")) == 1


def test_verify_decode_names_every_file_that_does_not_decode(tmp_path, cache):
    lists = write_tree(tmp_path / "tree")
    broken = [tmp_path / "tree" / "images" / name for name in (lists["train/0"][3], lists["test/1"][0])]
    broken[0].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)  # a PNG signature, then nothing valid
    Image.new("L", (32, 32)).save(broken[1])
    broken[1].write_bytes(broken[1].read_bytes()[:30])  # truncated
    root = ["--root", str(tmp_path / "tree")]
    quick = run_bench("data", "verify", "medad", *root, env=cache)
    assert quick.returncode == 0 and "--decode" in quick.stdout, "the layout is fine; the summary suggests --decode"
    full = run_bench("data", "verify", "medad", *root, "--decode", env=cache)
    assert full.returncode == 1
    message = one_line_error(full)
    assert "2 of 56 images could not be decoded" in message
    assert all(path.name in message for path in broken)
