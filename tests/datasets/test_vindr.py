"""VinDr-CXR: label rules (three radiologists), DICOM and PNG exports, MONOCHROME1 files, bad layouts."""

from __future__ import annotations

import pandas as pd
import pytest

from bench.core.errors import DataError
from tests.datasets.fake_trees import write_vindr_tree
from tests.datasets.scaled_protocol import make, write_official

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def tree(tmp_path):
    write_official("vindr", tmp_path)
    return tmp_path


def test_an_image_is_abnormal_when_any_radiologist_reports_a_finding(tree):
    table = pd.read_csv(tree / "train.csv", dtype=str)
    images = make("vindr", tree).official_images(tree).set_index("id")
    for image_id, rows in table.groupby("image_id"):
        assert images.loc[image_id, "label"] == int((rows["class_name"] != "No finding").any())
    assert (table.groupby("image_id")["class_name"].apply(lambda c: (c != "No finding").sum()) <= 1).all()


def test_image_ids_that_look_like_numbers_keep_their_leading_zeros(tree):
    ids = set(make("vindr", tree).manifest()["id"]) | set(make("vindr", tree).official_images(tree)["id"])
    assert "0" * 32 in ids and all(len(i) == 32 for i in ids)


def test_monochrome1_and_monochrome2_files_decode_to_the_same_orientation(tree):
    prepared = make("vindr", tree).prepare()
    left, right = prepared.images[..., :4].mean(axis=(1, 2, 3)), prepared.images[..., -4:].mean(axis=(1, 2, 3))
    assert (right - left > 150).all(), "a MONOCHROME1 file decoded without inversion would be bright on the left"


def test_png_exports_are_read_like_the_dicom_files(tmp_path):
    write_vindr_tree(tmp_path, normal=9, abnormal=5, image_format="png")
    prepared = make("vindr", tmp_path).prepare()
    assert prepared.manifest["path"].str.endswith(".png").all()
    assert prepared.images.shape[1:] == (1, 32, 32)


def test_dicom_files_are_preferred_over_png_exports_of_the_same_image(tree):
    write_vindr_tree(tree, normal=9, abnormal=5, image_format="png")
    write_official("vindr", tree)
    assert make("vindr", tree).manifest()["path"].str.endswith(".dcm").all()


def test_missing_label_file_and_images_are_named(tree):
    victim = sorted((tree / "train").iterdir())[0]
    victim.unlink()
    with pytest.raises(DataError, match=f"missing image .*{victim.stem}"):
        make("vindr", tree).verify()
    (tree / "train.csv").unlink()
    assert make("vindr", tree).problems()[0] == f"missing file {tree / 'train.csv'}"


def test_a_label_file_without_class_name_is_named(tree):
    pd.read_csv(tree / "train.csv").drop(columns="class_name").to_csv(tree / "train.csv", index=False)
    assert any("lacks column(s) class_name" in p for p in make("vindr", tree).problems())
