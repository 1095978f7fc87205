"""RSNA Pneumonia: label rules, decoded pixels and every bad-layout message, on a fake Kaggle tree."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.core.errors import DataError
from tests.datasets.scaled_protocol import make, write_official

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def tree(tmp_path):
    write_official("rsna", tmp_path)
    return tmp_path


def test_not_normal_without_opacity_patients_are_left_out_and_multi_box_patients_counted_once(tree):
    classes = pd.read_csv(tree / "stage_2_detailed_class_info.csv")
    excluded = set(classes.loc[classes["class"] == "No Lung Opacity / Not Normal", "patientId"])
    images = make("rsna", tree).official_images(tree)
    assert excluded and not excluded & set(images["id"])
    assert not images["id"].duplicated().any() and len(images) == 14
    assert (images["label"] == 1).sum() == 5


def test_decoded_radiographs_are_the_jpeg_pixels_at_the_protocol_size(tree):
    prepared = make("rsna", tree).prepare()
    assert prepared.images.shape == (len(prepared.manifest), 1, 32, 32)
    left, right = prepared.images[..., :4].mean(axis=(1, 2, 3)), prepared.images[..., -4:].mean(axis=(1, 2, 3))
    assert (right - left > 150).all(), "the ramp must stay dark on the left and bright on the right"


def test_missing_files_are_all_named(tree):
    (tree / "stage_2_detailed_class_info.csv").unlink()
    (tree / "stage_2_train_labels.csv").unlink()
    problems = make("rsna", tree).problems()
    assert any("missing file" in p and "stage_2_detailed_class_info.csv" in p for p in problems)
    assert any("missing file" in p and "stage_2_train_labels.csv" in p for p in problems)


def test_a_missing_dicom_file_is_named(tree):
    victim = sorted((tree / "stage_2_train_images").iterdir())[0]
    victim.unlink()
    with pytest.raises(DataError, match=f"missing image .*{victim.name}"):
        make("rsna", tree).verify()


def test_label_files_without_the_official_columns_or_with_unknown_classes_are_named(tree):
    classes = pd.read_csv(tree / "stage_2_detailed_class_info.csv")
    classes.rename(columns={"class": "label"}).to_csv(tree / "stage_2_detailed_class_info.csv", index=False)
    assert any("lacks column(s) class" in p for p in make("rsna", tree).problems())
    classes.loc[0, "class"] = "Pneumonia?"
    classes.to_csv(tree / "stage_2_detailed_class_info.csv", index=False)
    assert any("unknown class(es)" in p and "Pneumonia?" in p for p in make("rsna", tree).problems())


def test_label_files_that_disagree_on_opacity_are_named(tree):
    boxes = pd.read_csv(tree / "stage_2_train_labels.csv")
    boxes.loc[0, "Target"] = 1
    boxes.to_csv(tree / "stage_2_train_labels.csv", index=False)
    assert any("disagree" in p and "1 patients" in p for p in make("rsna", tree).problems())


def test_an_unreadable_dicom_stops_preparation_naming_and_counting_it(tree):
    manifest = make("rsna", tree).manifest()
    victim = tree / manifest["path"].iloc[0]
    victim.write_bytes(b"\0" * 128 + b"DICM" + b"garbage")
    with pytest.raises(DataError, match=rf"1 of {len(manifest)} images could not be read:\n.*{victim.name}"):
        make("rsna", tree).prepare()
