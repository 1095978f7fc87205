"""LAG: the released class folders, RGB decoding and bad layouts."""

from __future__ import annotations

import shutil

import pytest

from tests.datasets.scaled_protocol import make, write_official

pytestmark = pytest.mark.usefixtures("clean_env")


@pytest.fixture
def tree(tmp_path):
    write_official("lag", tmp_path)
    return tmp_path


def test_the_class_folder_gives_the_label_and_the_file_stem_the_id(tree):
    images = make("lag", tree).official_images(tree)
    assert set(images.loc[images["label"] == 1, "path"].str.split("/").str[0]) == {"suspicious_glaucoma"}
    assert set(images.loc[images["label"] == 0, "path"].str.split("/").str[0]) == {"non_glaucoma"}
    assert images["id"].str.fullmatch(r"\d{4}").all()


def test_stems_repeated_across_folders_are_qualified_by_folder(tree):
    shutil.copy(tree / "non_glaucoma/image/0001.jpg", tree / "suspicious_glaucoma/image/0001.jpg")
    images = make("lag", tree).official_images(tree)
    assert not images["id"].duplicated().any()
    assert "suspicious_glaucoma/0001" in set(images["id"])


def test_fundus_images_are_decoded_in_colour_with_channels_in_rgb_order(tree):
    prepared = make("lag", tree).prepare()
    images = prepared.images.astype(float)
    assert images.shape[1:] == (3, 32, 32) and prepared.channels == 3
    red_left, red_right = images[:, 0, :, :4].mean(), images[:, 0, :, -4:].mean()
    green_left, green_right = images[:, 1, :, :4].mean(), images[:, 1, :, -4:].mean()
    assert red_right - red_left > 150 and green_left - green_right > 150


def test_a_missing_or_empty_class_folder_is_named(tree):
    shutil.rmtree(tree / "suspicious_glaucoma")
    for path in (tree / "non_glaucoma" / "image").iterdir():
        path.unlink()
    problems = make("lag", tree).problems()
    assert f"missing folder {tree / 'suspicious_glaucoma/image'}" in problems
    assert f"folder {tree / 'non_glaucoma/image'} holds no .jpg/.png images" in problems
