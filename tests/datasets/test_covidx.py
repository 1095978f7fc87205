"""COVIDx adapter on tiny fake trees in the official layout: COVID-Net label files and real PNG images."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from bench.cli import app
from bench.core import registry
from bench.core.errors import DataError
from bench.data.manifest import manifest_hash, split_counts
from bench.datasets.covidx import COVIDxDataset, parse_label_file
from bench.methods.pca.detector import PCADetector
from bench.runs.execute import execute
from bench.runs.plan import RunSpec

BINARY = {"negative": 0, "positive": 1}
# The protocol scaled down: 12 known normals, 6 + 4 unlabeled, 4 + 4 test, 32 px.
SCALED = {"n_normal": "12", "unlabeled_size": "10", "anomaly_ratio": "0.4", "n_test": "4", "size": "32"}


def write_covidx(root: Path, train: dict[str, int], test: dict[str, int], *, data_source: bool = True
                 ) -> Path:
    """A COVIDx tree: train.txt / test.txt (`patient_id filename class data_source`) and 32 px PNGs."""
    rng = np.random.default_rng(0)
    for part, counts in (("train", train), ("test", test)):
        (root / part).mkdir(parents=True, exist_ok=True)
        lines = []
        for cls, count in counts.items():
            for i in range(count):
                filename = f"{part}-{cls.lower()}-{i:03d}.png"
                # patient ids may hold a space, as "COVID 70" does in the official lists
                patient = f"COVID {i}" if cls in ("positive", "COVID-19") else f"p{part}{i}"
                lines.append(f"{patient} {filename} {cls}" + (" sirm" if data_source else ""))
                Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(root / part / filename)
        (root / f"{part}.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_covidx(tmp_path / "covidx", {"negative": 30, "positive": 12}, {"negative": 5, "positive": 5})


def adapter(root: Path, **overrides: str) -> COVIDxDataset:
    return COVIDxDataset(root, COVIDxDataset.make_options({**SCALED, **overrides}))


def data_settings() -> list[str]:
    """The scaled protocol as `--set data.key=value` options."""
    return [item for key, value in SCALED.items() for item in ("--set", f"data.{key}={value}")]


def ids(manifest: pd.DataFrame, split: str) -> list[str]:
    return sorted(manifest.loc[manifest["split"] == split, "id"])


def test_default_protocol_is_healthygans_covidx_counts():
    assert COVIDxDataset(Path(".")).protocol() == {
        "train_normal": {0: 10_031}, "train_unlabeled": {0: 3_663, 1: 1_570}, "test": {0: 100, 1: 100}}
    assert (COVIDxDataset.image_size, COVIDxDataset.crop_top) == (256, 0.08)


def test_manifest_counts_match_the_scaled_protocol(tree):
    dataset = adapter(tree)
    assert split_counts(dataset.manifest()) == dataset.protocol() == {
        "train_normal": {0: 12}, "train_unlabeled": {0: 6, 1: 4}, "test": {0: 4, 1: 4}}


def test_labels_follow_the_label_files_and_splits_are_disjoint(tree):
    manifest = adapter(tree).manifest()
    listed = {}
    for part in ("train", "test"):
        table, _ = parse_label_file(tree / f"{part}.txt")
        pairs = zip(table["filename"], table["class"], strict=True)
        listed.update({f"{part}/{name}": BINARY[cls] for name, cls in pairs})
    assert manifest["id"].is_unique
    assert all(listed[i] == label for i, label in zip(manifest["id"], manifest["label"], strict=True))
    assert all(i.startswith("test/") for i in ids(manifest, "test"))
    assert not any(i.startswith("test/") for i in manifest.loc[manifest["split"] != "test", "id"])
    assert (tree / manifest["path"]).map(Path.is_file).all()


def test_same_split_seed_gives_the_same_split_and_another_seed_another(tree):
    first, again = adapter(tree).manifest(), adapter(tree).manifest()
    other = adapter(tree, split_seed="1").manifest()
    assert manifest_hash(first, dataset="covidx") == manifest_hash(again, dataset="covidx")
    assert ids(first, "train_normal") != ids(other, "train_normal")


def test_known_normals_and_test_do_not_move_when_the_unlabeled_set_changes(tree):
    base = adapter(tree).manifest()
    mixed = adapter(tree, anomaly_ratio="0.8", unlabeled_size="5").manifest()
    assert split_counts(mixed)["train_unlabeled"] == {0: 1, 1: 4}
    for split in ("train_normal", "test"):
        assert ids(base, split) == ids(mixed, split)


def test_unlabeled_images_are_not_ordered_by_label(tree):
    manifest = adapter(tree, unlabeled_size="18", anomaly_ratio="0.5").manifest()
    unlabeled = manifest.query("split == 'train_unlabeled'")
    labels = unlabeled["label"].tolist()
    assert labels != sorted(labels) and labels != sorted(labels, reverse=True)


def test_n_val_draws_a_labelled_validation_split_from_train_txt(tree):
    manifest = adapter(tree, n_val="3").manifest()
    assert split_counts(manifest)["val"] == {0: 3, 1: 3}
    assert all(i.startswith("train/") for i in ids(manifest, "val"))


def test_pneumonia_is_left_out_by_default_and_counted_normal_on_request(tmp_path):
    root = write_covidx(tmp_path, {"normal": 12, "pneumonia": 10, "COVID-19": 6},
                       {"normal": 4, "pneumonia": 4, "COVID-19": 4}, data_source=False)  # 3-column lines
    default = adapter(root, n_normal="6").manifest()
    assert "pneumonia" not in set(default["finding"])
    assert split_counts(default)["test"] == {0: 4, 1: 4}
    short = r"normal/negative pool: the protocol asks for 14 images \(8 train_normal, 6 train_unlabeled\) "
    with pytest.raises(DataError, match=short + r"but the pool holds 12 \(2 short\)"):
        adapter(root, n_normal="8").manifest()
    counted = adapter(root, n_normal="14", pneumonia="normal").manifest()
    assert "pneumonia" in set(counted.loc[counted["label"] == 0, "finding"])


def test_label_lines_are_read_from_the_end_with_or_without_data_source(tmp_path):
    path = tmp_path / "train.txt"
    path.write_text("COVID 70 COVID(70).png positive sirm\n19 a.jpg COVID-19 cohen\n7 b.png normal\n\n"
                    "ANON1 c.png negative actmed\n")
    table, problems = parse_label_file(path)
    assert problems == []
    assert table[["patient_id", "filename", "class"]].values.tolist() == [
        ["COVID 70", "COVID(70).png", "positive"], ["19", "a.jpg", "COVID-19"], ["7", "b.png", "normal"],
        ["ANON1", "c.png", "negative"]]


def test_malformed_label_lines_are_named_with_their_line_numbers(tree):
    with open(tree / "train.txt", "a") as labels:
        labels.write("p1 lonely.png\np2 x.png sick rsna\n")
    with pytest.raises(DataError) as error:
        adapter(tree).verify()
    message = str(error.value)
    assert "train.txt line 43" in message and "train.txt line 44" in message
    assert "'p2 x.png sick rsna'" in message


def test_missing_label_files_folders_and_images_are_all_named_with_layout_and_source(tree):
    (tree / "test.txt").unlink()
    shutil.rmtree(tree / "test")
    (tree / "train" / "train-positive-003.png").unlink()
    (tree / "train" / "train-negative-007.png").unlink()
    with pytest.raises(DataError) as error:
        adapter(tree).verify()
    message = str(error.value)
    assert "4 problem(s)" in message
    for expected in (f"missing label file {tree / 'test.txt'}", f"missing image folder {tree / 'test'}/",
                     f"missing image {tree / 'train' / 'train-positive-003.png'}", "train-negative-007.png",
                     "Expected layout", "train/<filename>", "github.com/lindawangg/COVID-Net",
                     "kaggle datasets download -d andyczhao/covidx-cxr2"):
        assert expected in message


def test_a_missing_root_says_how_to_give_one_and_where_the_data_comes_from(tmp_path, monkeypatch):
    monkeypatch.delenv("BENCH_DATA_COVIDX", raising=False)
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("BENCH_CONFIG", str(tmp_path / "empty.toml"))
    with pytest.raises(DataError, match="--root PATH, or set BENCH_DATA_COVIDX=PATH.*\n.*covidx-cxr2"):
        COVIDxDataset().verify()
    with pytest.raises(DataError, match="does not exist"):
        COVIDxDataset(tmp_path / "nowhere").verify()


def test_the_root_comes_from_the_environment_or_the_config_file(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA_COVIDX", str(tree))
    assert COVIDxDataset().root == tree
    monkeypatch.delenv("BENCH_DATA_COVIDX")
    config = tmp_path / "config.toml"
    config.write_text(f'[data]\ncovidx = "{tree}"\n')
    monkeypatch.setenv("BENCH_CONFIG", str(config))
    assert COVIDxDataset().root == tree
    manifest = COVIDxDataset(options=COVIDxDataset.make_options(SCALED)).manifest()
    assert split_counts(manifest)["test"] == {0: 4, 1: 4}


def test_a_short_pool_is_an_error_naming_it_and_with_allow_short_a_warning_never_padding(tree):
    with pytest.raises(DataError, match=r"COVID-19/positive pool: the protocol asks for 15 images "
                                        r"\(15 train_unlabeled\) but the pool holds 12 \(3 short\)"):
        adapter(tree, unlabeled_size="20", anomaly_ratio="0.75").manifest()
    with pytest.warns(UserWarning, match="holds 12 of the 15 images .* drew 12 of 15 train_unlabeled"):
        manifest = adapter(tree, unlabeled_size="20", anomaly_ratio="0.75", allow_short="true").manifest()
    assert split_counts(manifest)["train_unlabeled"] == {0: 5, 1: 12}
    assert manifest["id"].is_unique


def test_prepare_drops_the_top_8_percent_of_rows_as_healthygans_code_does(tree):
    # a split of its own, so no other test's cache is reused; every image is the same picture (allowed)
    dataset = adapter(tree, split_seed="3", allow_duplicates="true")
    manifest = dataset.manifest()
    for path in manifest["path"]:  # a white band in the top 4 of 50 rows, black below
        pixels = np.zeros((50, 50), np.uint8)
        pixels[:4] = 255
        Image.fromarray(pixels).save(tree / path)
    prepared = dataset.prepare()
    assert prepared.images.shape == (len(manifest), 1, 32, 32)
    assert prepared.images.max() == 0


class UnlabeledRecorder(PCADetector):
    """PCA that records what `fit` received as unlabeled images."""

    name = "unlabeled-recorder"
    uses_unlabeled = True
    seen: list = []

    def _fit(self, data, val):
        type(self).seen.append(data.unlabeled)
        super()._fit(data, val)


def test_unlabeled_labels_stay_in_the_manifest_but_never_reach_fit(tree, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.methods._entries, UnlabeledRecorder.name,
                        registry.Entry(UnlabeledRecorder.name, UnlabeledRecorder, uses_unlabeled=True))
    UnlabeledRecorder.seen.clear()
    prepared = adapter(tree).prepare()
    spec = RunSpec(UnlabeledRecorder.name, "covidx", 0, "smoke", {}, {})
    outcome = execute(spec, prepared, tmp_path / "runs", device="cpu")
    assert outcome.status == "complete", outcome.error
    (unlabeled,) = UnlabeledRecorder.seen
    assert set(unlabeled.labels.tolist()) == {-1}
    in_manifest = prepared.manifest.query("split == 'train_unlabeled'")
    assert sorted(unlabeled.ids) == sorted(in_manifest["id"]) and set(in_manifest["label"]) == {0, 1}


def test_bench_data_verify_prints_the_counts_and_fails_on_a_bad_layout(tree):
    cli = CliRunner()
    ok = cli.invoke(app, ["data", "verify", "covidx", "--root", str(tree), *data_settings()])
    assert ok.exit_code == 0, ok.output
    assert "layout OK" in ok.output and "train_unlabeled" in ok.output
    shutil.rmtree(tree / "train")
    bad = cli.invoke(app, ["data", "verify", "covidx", "--root", str(tree)])
    assert bad.exit_code == 1
    assert "missing image folder" in bad.output


def test_bench_run_trains_and_scores_pca_on_the_fake_tree(tree, tmp_path):
    result = CliRunner().invoke(app, ["run", "--methods", "pca", "--dataset", "covidx", "--root", str(tree),
                                      "--preset", "smoke", "--device", "cpu",
                                      "--runs", str(tmp_path / "runs"), *data_settings()])
    assert result.exit_code == 0, result.output
    (record,) = (tmp_path / "runs" / "covidx" / "pca").glob("*/run.json")
    run = json.loads(record.read_text())
    assert run["status"] == "complete"
    assert run["data"]["counts"]["test"] == {"0": 4, "1": 4} and run["data"]["image_size"] == 32


def test_the_bench_console_script_exits_1_when_verify_finds_a_problem(tree):
    (tree / "test.txt").unlink()
    bench = Path(sys.executable).with_name("bench")
    done = subprocess.run([str(bench), "data", "verify", "covidx", "--root", str(tree)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "missing label file" in done.stderr
