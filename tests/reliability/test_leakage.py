"""Issue 28, case 1: the same image under another name in two splits (a byte copy, a symlink or hard link, the
same pixels re-encoded) stops a prepare or run with exit 2 naming the pairs, unless allowed explicitly; a
re-encoded near-duplicate is warned about."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import one_line_error, records, run_bench, write_tree

PCA = ["run", "--methods", "pca", "--dataset", "medad", "--preset", "tiny"]


def leak(root: Path, lists: dict[str, list[str]], how: str, n: int = 3) -> list[tuple[str, str]]:
    """Put `n` training normals into test/0 under new names (`how`: copy, symlink, hardlink, reencode);
    returns the (training name, test name) pairs."""
    images = root / "images"
    pairs = []
    for index, name in enumerate(lists["train/0"][:n]):
        new = f"leaked_{index}.png"
        if how == "copy":
            shutil.copy(images / name, images / new)
        elif how == "symlink":
            (images / new).symlink_to(name)
        elif how == "hardlink":
            os.link(images / name, images / new)
        else:  # the same pixels, written by another encoder setting (other bytes, identical decoded pixels)
            Image.open(images / name).save(images / new, compress_level=0)
        pairs.append((name, new))
    data = json.loads((root / "data.json").read_text())
    data["test"]["0"] += [new for _, new in pairs]
    (root / "data.json").write_text(json.dumps(data))
    return pairs


def test_each_kind_of_copy_across_splits_is_exit_2_naming_the_pairs(tmp_path, cache):
    for how in ("copy", "symlink", "hardlink", "reencode"):
        root = tmp_path / how
        lists = write_tree(root)
        pairs = leak(root, lists, how)
        if how == "reencode":
            assert (root / "images" / pairs[0][0]).read_bytes() != (root / "images" / pairs[0][1]).read_bytes()
        for command in (["data", "prepare", "medad"], [*PCA, "--runs", str(tmp_path / "runs")]):
            call = run_bench if how == "copy" else bench_in_process  # one case through the installed script
            result = call(*command, "--root", str(root), env=cache)
            assert result.returncode == 2, f"{how}: {result.stdout}{result.stderr}"
            message = one_line_error(result)
            assert "3 image(s)" in message and "data.allow_duplicates=true" in message, message
            assert all(a in message and b in message for a, b in pairs), message
        assert not list((tmp_path / "runs").glob("*/*/*/run.json")), "nothing starts on leaked data"


def test_a_test_image_copied_into_the_unlabeled_pool_is_found(tmp_path, cache):
    lists = write_tree(tmp_path / "tree")
    images = tmp_path / "tree" / "images"
    shutil.copy(images / lists["test/1"][4], images / "pool_copy.png")
    data = json.loads((tmp_path / "tree" / "data.json").read_text())
    data["train"]["unlabeled"]["1"].append("pool_copy.png")
    (tmp_path / "tree" / "data.json").write_text(json.dumps(data))
    result = bench_in_process("data", "prepare", "medad", "--root", str(tmp_path / "tree"), env=cache)
    assert result.returncode == 2
    assert lists["test/1"][4] in result.stderr and "pool_copy.png" in result.stderr


def test_allowing_duplicates_runs_and_says_so(tmp_path, cache):
    root = tmp_path / "tree"
    lists = write_tree(root)
    leak(root, lists, "copy")
    result = bench_in_process(*PCA, "--root", str(root), "--runs", str(tmp_path / "runs"), "--set",
                              "data.allow_duplicates=true", env=cache)
    assert result.returncode == 0, result.stderr
    assert "3 image(s)" in result.stderr and "allowed" in result.stderr
    (record,) = records(tmp_path / "runs")
    assert record["data"]["options"]["allow_duplicates"] is True


def test_a_near_duplicate_is_warned_about_not_refused(tmp_path, cache):
    """JPEG at quality 90 changes pixels by a few grey levels: not identical, but the same image."""
    root = tmp_path / "tree"
    lists = write_tree(root)
    images = root / "images"
    Image.open(images / lists["train/0"][5]).save(images / "near.jpg", quality=90)
    pixels = np.asarray(Image.open(images / "near.jpg"), dtype=int)
    assert (pixels != np.asarray(Image.open(images / lists["train/0"][5]), dtype=int)).any()
    data = json.loads((root / "data.json").read_text())
    data["test"]["0"].append("near.jpg")
    (root / "data.json").write_text(json.dumps(data))
    result = run_bench("data", "prepare", "medad", "--root", str(root), env=cache)
    assert result.returncode == 0, result.stderr
    assert "near-duplicate" in result.stderr and "near.jpg" in result.stderr and lists["train/0"][5] in result.stderr


def test_a_clean_tree_has_no_duplicate_warning(tmp_path, cache):
    write_tree(tmp_path / "tree")
    result = run_bench("data", "prepare", "medad", "--root", str(tmp_path / "tree"), env=cache)
    assert result.returncode == 0 and "duplicate" not in result.stderr + result.stdout
