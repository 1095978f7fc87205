"""ChestX-ray14 adapter on tiny fake trees in the official layouts: Data_Entry_2017.csv and real PNGs."""

from __future__ import annotations

import json
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
from bench.datasets.chestxray14 import ChestXray14Dataset
from bench.methods.pca.detector import PCADetector
from bench.runs.execute import execute
from bench.runs.plan import RunSpec

# The official header, trailing comma included (the bracketed names hold commas, as in the NIH file).
HEADER = ("Image Index,Finding Labels,Follow-up #,Patient ID,Patient Age,Patient Gender,View Position,"
          "OriginalImage[Width,Height],OriginalImagePixelSpacing[x,y],")
DISEASES = ("Cardiomegaly", "Effusion", "Nodule", "Pneumothorax", "Infiltration")
# (view, findings, how many): 16 PA normal, 9 PA single-finding, and images the protocol leaves out.
ROWS = [("PA", "No Finding", 16), ("PA", "single", 9), ("PA", "Effusion|Mass", 3), ("AP", "No Finding", 4),
        ("AP", "Atelectasis", 3)]
# The protocol scaled down: 6 known normals, 3 + 2 unlabeled, 2 + 2 val, 3 + 3 test, 32 px.
SCALED = {"n_normal": "6", "unlabeled_size": "5", "anomaly_ratio": "0.4", "n_val": "2", "n_test": "3",
          "size": "32"}


def write_chestxray14(root: Path, *, layout: str = "kaggle", labels_name: str = "Data_Entry_2017.csv"
                      ) -> Path:
    """A ChestX-ray14 tree: the label CSV and 32 px PNGs in images_00N/images/ (Kaggle) or images/ (NIH)."""
    rng = np.random.default_rng(0)
    lines, index = [HEADER], 0
    for view, findings, count in ROWS:
        for _ in range(count):
            name = f"{index:08d}_000.png"
            finding = DISEASES[index % len(DISEASES)] if findings == "single" else findings
            lines.append(f"{name},{finding},0,{index},58,M,{view},2500,2048,0.143,0.143")
            folder = root / ("images" if layout == "nih" else f"images_00{1 + index % 2}/images")
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)).save(folder / name)
            index += 1
    (root / labels_name).write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return write_chestxray14(tmp_path / "nih")


def adapter(root: Path | None, **overrides: str) -> ChestXray14Dataset:
    return ChestXray14Dataset(root, ChestXray14Dataset.make_options({**SCALED, **overrides}))


def data_settings(**overrides: str) -> list[str]:
    """The scaled protocol as `--set data.key=value` options."""
    settings = {**SCALED, **overrides}
    return [item for key, value in settings.items() for item in ("--set", f"data.{key}={value}")]


def ids(manifest: pd.DataFrame, split: str) -> list[str]:
    return sorted(manifest.loc[manifest["split"] == split, "id"])


def test_default_protocol_is_healthygans_chestxray14_counts():
    assert ChestXray14Dataset(Path(".")).protocol() == {
        "train_normal": {0: 10_000}, "train_unlabeled": {0: 5_000, 1: 3_195}, "val": {0: 4_000, 1: 4_000},
        "test": {0: 10_000, 1: 10_000}}
    assert ChestXray14Dataset.image_size == 128


def test_manifest_counts_match_the_scaled_protocol(tree):
    dataset = adapter(tree)
    assert split_counts(dataset.manifest()) == dataset.protocol() == {
        "train_normal": {0: 6}, "train_unlabeled": {0: 3, 1: 2}, "val": {0: 2, 1: 2}, "test": {0: 3, 1: 3}}


def test_only_pa_views_with_no_finding_or_one_finding_are_drawn_and_labelled(tree):
    manifest = adapter(tree, n_test="5").manifest()  # every eligible image
    table = pd.read_csv(tree / "Data_Entry_2017.csv").set_index("Image Index")
    rows = table.loc[manifest["id"]]
    assert set(rows["View Position"]) == {"PA"}
    assert not rows["Finding Labels"].str.contains("|", regex=False).any()
    assert ((rows["Finding Labels"] == "No Finding").to_numpy() == (manifest["label"] == 0).to_numpy()).all()
    assert len(manifest) == 16 + 9 and manifest["id"].is_unique
    assert (manifest["finding"].to_numpy() == rows["Finding Labels"].to_numpy()).all()
    assert (tree / manifest["path"]).map(Path.is_file).all()


def test_same_split_seed_gives_the_same_split_and_another_seed_another(tree):
    first, again = adapter(tree).manifest(), adapter(tree).manifest()
    other = adapter(tree, split_seed="7").manifest()
    assert manifest_hash(first, dataset="chestxray14") == manifest_hash(again, dataset="chestxray14")
    assert ids(first, "test") != ids(other, "test")


def test_evaluation_splits_and_known_normals_do_not_move_when_the_unlabeled_set_changes(tree):
    base = adapter(tree).manifest()
    mixed = adapter(tree, unlabeled_size="4", anomaly_ratio="0.5").manifest()
    assert split_counts(mixed)["train_unlabeled"] == {0: 2, 1: 2}
    for split in ("train_normal", "val", "test"):
        assert ids(base, split) == ids(mixed, split)


def test_the_nih_layout_and_the_v2020_label_file_are_read_too(tmp_path):
    root = write_chestxray14(tmp_path, layout="nih", labels_name="Data_Entry_2017_v2020.csv")
    manifest = adapter(root).manifest()
    assert manifest["path"].str.startswith("images/").all()
    assert split_counts(manifest)["test"] == {0: 3, 1: 3}


def test_an_empty_root_names_the_label_file_the_image_folders_the_layout_and_the_source(tmp_path):
    with pytest.raises(DataError) as error:
        adapter(tmp_path).verify()
    message = str(error.value)
    assert "2 problem(s)" in message
    for expected in (f"missing label file {tmp_path / 'Data_Entry_2017.csv'}", "missing image folder",
                     "images_001/images/*.png", "Expected layout", "https://nihcc.app.box.com/v/ChestXray-NIHCC",
                     "kaggle datasets download -d nih-chest-xrays/data"):
        assert expected in message


def test_missing_images_and_columns_are_named(tree):
    (tree / "images_001" / "images" / "00000004_000.png").unlink()  # PA normal: needed
    (tree / "images_002" / "images" / "00000031_000.png").unlink()  # AP: not needed, not a problem
    with pytest.raises(DataError) as error:
        adapter(tree).verify()
    assert "1 problem(s)" in str(error.value) and "missing image 00000004_000.png" in str(error.value)
    labels = pd.read_csv(tree / "Data_Entry_2017.csv")
    labels.drop(columns=["View Position"]).to_csv(tree / "Data_Entry_2017.csv", index=False)
    with pytest.raises(DataError, match="Data_Entry_2017.csv lacks column\\(s\\) View Position"):
        adapter(tree).verify()


def test_an_unreadable_label_file_is_named(tree):
    (tree / "Data_Entry_2017.csv").write_bytes(b"")
    with pytest.raises(DataError, match="cannot read .*Data_Entry_2017.csv as CSV"):
        adapter(tree).verify()


def test_a_short_single_finding_pool_is_an_error_and_with_allow_short_every_split_shrinks(tree):
    asked = r"the protocol asks for 10 images \(6 test, 2 val, 2 train_unlabeled\)"
    with pytest.raises(DataError, match=rf"PA single-finding pool: {asked} but the pool holds 9 \(1 short\)"
                                        r".*--set data.allow_short=true"):
        adapter(tree, n_test="6", n_normal="5").manifest()
    with pytest.warns(UserWarning, match="drew 5 of 6 test, 2 of 2 val, 2 of 2 train_unlabeled"):
        manifest = adapter(tree, n_test="6", n_normal="5", allow_short="true").manifest()
    assert split_counts(manifest)["test"] == {0: 6, 1: 5}
    assert manifest["id"].is_unique and (manifest["label"] == 1).sum() == 9


def test_bench_data_verify_shows_the_counts_drawn_against_the_protocol_when_short(tree):
    cli = CliRunner()
    ok = cli.invoke(app, ["data", "verify", "chestxray14", "--root", str(tree), *data_settings()])
    assert ok.exit_code == 0, ok.output
    with pytest.warns(UserWarning, match="single-finding pool: the pool holds 9 of the 10 images"):
        short = cli.invoke(app, ["data", "verify", "chestxray14", "--root", str(tree),
                                 *data_settings(n_test="6", n_normal="5", allow_short="true")])
    assert short.exit_code == 1
    assert "layout OK" in short.output and "test" in short.output


def test_the_root_comes_from_the_environment_or_the_config_file(tree, tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_DATA_CHESTXRAY14", str(tree))
    assert adapter(None).root == tree
    monkeypatch.delenv("BENCH_DATA_CHESTXRAY14")
    config = tmp_path / "config.toml"
    config.write_text(f'[data]\nchestxray14 = "{tree}"\n')
    monkeypatch.setenv("BENCH_CONFIG", str(config))
    assert split_counts(adapter(None).manifest())["val"] == {0: 2, 1: 2}


class UnlabeledRecorder(PCADetector):
    """PCA that records what `fit` received as unlabeled images."""

    name = "unlabeled-recorder-cxr14"
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
    spec = RunSpec(UnlabeledRecorder.name, "chestxray14", 0, "smoke", {}, {})
    outcome = execute(spec, prepared, tmp_path / "runs", device="cpu")
    assert outcome.status == "complete", outcome.error
    (unlabeled,) = UnlabeledRecorder.seen
    assert set(unlabeled.labels.tolist()) == {-1}
    in_manifest = prepared.manifest.query("split == 'train_unlabeled'")
    assert sorted(unlabeled.ids) == sorted(in_manifest["id"]) and set(in_manifest["label"]) == {0, 1}


def test_bench_run_trains_and_scores_pca_on_the_fake_tree(tree, tmp_path):
    result = CliRunner().invoke(app, ["run", "--methods", "pca", "--dataset", "chestxray14",
                                      "--root", str(tree), "--preset", "smoke", "--device", "cpu",
                                      "--runs", str(tmp_path / "runs"), *data_settings()])
    assert result.exit_code == 0, result.output
    (record,) = (tmp_path / "runs" / "chestxray14" / "pca").glob("*/run.json")
    run = json.loads(record.read_text())
    assert run["status"] == "complete" and run["threshold_policy"].startswith("val-f1")
    assert run["data"]["counts"]["val"] == {"0": 2, "1": 2} and run["data"]["image_size"] == 32
