"""Issue 28, case 2: one bit-depth rule for every image (integers scaled by their bit depth's full range, floats
taken in [0, 1]), the same for every image of a data set and recorded in run.json; a tree mixing depths is named by
verify; a float image with NaN is refused, naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import one_line_error, records, run_bench, write_tree

PCA = ["run", "--methods", "pca", "--dataset", "medad", "--preset", "tiny"]


def to_16_bit(root: Path, names: list[str]) -> None:
    """Rewrite 8-bit PNGs as 16-bit ones holding the same picture (v * 257: 0 -> 0, 255 -> 65535)."""
    for name in names:
        pixels = np.asarray(Image.open(root / "images" / name), dtype=np.uint16) * 257
        Image.fromarray(pixels).save(root / "images" / name)
        assert Image.open(root / "images" / name).mode.startswith("I")


def auc(tmp_path: Path, root: Path, cache: dict[str, str]) -> dict:
    result = bench_in_process(*PCA, "--root", str(root), "--runs", str(tmp_path / f"runs-{root.name}"), env=cache)
    assert result.returncode == 0, result.stderr
    (record,) = records(tmp_path / f"runs-{root.name}")
    return record


def test_a_16_bit_tree_gives_the_numbers_of_its_8_bit_twin(tmp_path, cache):
    lists = write_tree(tmp_path / "eight")
    write_tree(tmp_path / "sixteen")
    to_16_bit(tmp_path / "sixteen", [n for names in lists.values() for n in names])
    eight, sixteen = auc(tmp_path, tmp_path / "eight", cache), auc(tmp_path, tmp_path / "sixteen", cache)
    assert eight["metrics"]["auc"] > 0.95
    assert sixteen["data"]["images_id"] == eight["data"]["images_id"], "the same pixels after the rule"
    assert sixteen["metrics"]["auc"] == eight["metrics"]["auc"]
    assert "bit depth" in sixteen["data"]["options"]["bit_depth_rule"]


def test_8_bit_train_with_16_bit_test_is_decoded_alike_and_verify_names_the_mix(tmp_path, cache):
    lists = write_tree(tmp_path / "mixed")
    to_16_bit(tmp_path / "mixed", lists["test/0"] + lists["test/1"])
    assert auc(tmp_path, tmp_path / "mixed", cache)["metrics"]["auc"] > 0.95
    verify = run_bench("data", "verify", "medad", "--root", str(tmp_path / "mixed"), env=cache)
    assert verify.returncode == 0, verify.stderr
    message = one_line_error(verify)
    assert "mixed bit depths" in message and "36 8-bit" in message and "20 16-bit" in message, message
    assert any(name in message for name in lists["test/0"] + lists["test/1"]), "an example of the 16-bit files"


def test_a_float_image_with_nan_is_refused_naming_the_file(tmp_path, cache):
    lists = write_tree(tmp_path / "tree")
    pixels = np.asarray(Image.open(tmp_path / "tree" / "images" / lists["test/0"][0]), dtype=np.float32) / 255
    pixels[3, 4] = np.nan
    Image.fromarray(pixels).save(tmp_path / "tree" / "images" / "float.tiff")
    data = json.loads((tmp_path / "tree" / "data.json").read_text())
    data["test"]["0"][0] = "float.tiff"
    (tmp_path / "tree" / "data.json").write_text(json.dumps(data))
    result = run_bench("data", "prepare", "medad", "--root", str(tmp_path / "tree"), env=cache)
    assert result.returncode == 2, result.stdout + result.stderr
    message = one_line_error(result)
    assert "float.tiff" in message and "NaN" in message
