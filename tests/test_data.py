"""The data engine: manifest validation and identity, decoding, the memmap cache, the synthetic data set."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sklearn.metrics import roc_auc_score

from bench.core.errors import DataError
from bench.core.images import ImageSet, TrainData
from bench.data.cache import build_image_cache
from bench.data.decode import load_image, to_uint8
from bench.data.manifest import draw, manifest_hash, row_order_hash, validate_manifest
from bench.datasets.synthetic import SyntheticDataset
from bench.methods.pca.detector import PCADetector
from bench.testing import TINY_DATA, synthetic_data


def manifest(rows):
    return pd.DataFrame(rows, columns=["id", "path", "label", "split"])


def test_manifest_rejects_abnormal_images_in_the_known_normal_split():
    with pytest.raises(DataError, match="known-normal"):
        validate_manifest(manifest([("a", "a.png", 1, "train_normal")]), dataset="x")


def test_manifest_rejects_unknown_splits_and_duplicate_ids():
    with pytest.raises(DataError, match="unknown split"):
        validate_manifest(manifest([("a", "a.png", 0, "training")]), dataset="x")
    with pytest.raises(DataError, match="duplicate"):
        validate_manifest(manifest([("a", "a.png", 0, "test"), ("a", "b.png", 1, "test")]), dataset="x")


def test_manifest_hash_ignores_paths_and_order_but_not_labels_or_splits():
    base = manifest([("a", "/x/a.png", 0, "test"), ("b", "/x/b.png", 1, "test")])
    moved = base.assign(path=["/y/a.png", "/y/b.png"])
    relabelled = base.assign(label=[1, 0])
    assert manifest_hash(base, dataset="d") == manifest_hash(moved, dataset="d")
    assert manifest_hash(base, dataset="d") == manifest_hash(base.iloc[::-1], dataset="d")
    assert row_order_hash(base) != row_order_hash(base.iloc[::-1]), "the image cache must see the order"
    assert manifest_hash(base, dataset="d") != manifest_hash(relabelled, dataset="d")
    assert manifest_hash(base, dataset="d") != manifest_hash(base, dataset="e")


def test_draw_is_seeded_and_names_a_short_pool():
    pool = pd.DataFrame({"id": range(10)})
    first = draw(pool, 4, np.random.default_rng(0), what="p")
    assert first.equals(draw(pool, 4, np.random.default_rng(0), what="p"))
    with pytest.raises(DataError, match="pool holds 10 .*2 short"):
        draw(pool, 12, np.random.default_rng(0), what="normal pool")
    with pytest.warns(UserWarning, match="drew 10 of the 12"):
        assert len(draw(pool, 12, np.random.default_rng(0), what="p", allow_short=True)) == 10


def test_to_uint8_spans_the_range():
    out = to_uint8(np.array([[100, 200], [300, 400]], dtype=np.uint16))
    assert out.dtype == np.uint8 and out.min() == 0 and out.max() == 255


def test_load_image_crops_square_and_resizes(tmp_path):
    pixels = np.zeros((40, 80), np.uint8)
    pixels[:, 20:60] = 255  # the centre square is all white
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    out = load_image(tmp_path / "wide.png", 16, 1)
    assert out.shape == (1, 16, 16) and out.min() == 255
    rgb = load_image(tmp_path / "wide.png", 16, 3)
    assert rgb.shape == (3, 16, 16)


def test_squash_keeps_the_whole_image(tmp_path):
    pixels = np.zeros((40, 80), np.uint8)
    pixels[:, :10] = 255  # a white band at the left edge, outside the centre square
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    assert load_image(tmp_path / "wide.png", 16, 1, square="crop").max() == 0
    squashed = load_image(tmp_path / "wide.png", 16, 1, square="squash")
    assert squashed.shape == (1, 16, 16) and squashed[0, :, 0].min() == 255


def test_corrupt_and_missing_images_are_all_named(tmp_path):
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    table = manifest([("good", "good.png", 0, "test"), ("bad", "bad.png", 1, "test"),
                      ("gone", "gone.png", 1, "test")])
    with pytest.raises(DataError) as error:
        build_image_cache(table, tmp_path, tmp_path / "cache", size=8, channels=1)
    message = str(error.value)
    assert "2 of 3 images could not be read" in message
    assert "bad.png" in message and "gone.png" in message
    assert not (tmp_path / "cache" / "images.npy").exists()


def test_cache_is_reused(tmp_path):
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(tmp_path / "a.png")
    table = manifest([("a", "a.png", 0, "test")])
    first = build_image_cache(table, tmp_path, tmp_path / "cache", size=4, channels=1)
    second = build_image_cache(table, tmp_path, tmp_path / "cache", size=4, channels=1)
    assert (first.decoded, second.decoded) == (1, 0), "an unchanged file is not decoded again"
    assert isinstance(second.images, np.memmap)
    np.testing.assert_array_equal(first.images, second.images)
    assert first.images_id == second.images_id


def test_unlabeled_training_images_cannot_carry_labels():
    images = ImageSet(np.zeros((2, 1, 4, 4), np.uint8), np.array([0, 1]), np.array(["a", "b"]))
    with pytest.raises(ValueError, match="label -1"):
        TrainData(images, images)
    assert (TrainData(images, images.without_labels()).unlabeled.labels == -1).all()


def test_synthetic_data_is_reproducible_and_follows_its_protocol(tiny_data, tmp_path):
    again = synthetic_data(tmp_path, TINY_DATA)  # another root: generated and decoded anew
    assert tiny_data.split_id == again.split_id
    np.testing.assert_array_equal(tiny_data.images, again.images)
    assert tiny_data.counts() == SyntheticDataset(options=SyntheticDataset.make_options(
        {k: str(v) for k, v in TINY_DATA.items()})).protocol()
    assert tiny_data.images.shape[1:] == (1, 64, 64)


def test_synthetic_seed_changes_the_images(tiny_data, tmp_path):
    other = synthetic_data(tmp_path, {**TINY_DATA, "split_seed": 1})
    assert not np.array_equal(tiny_data.images, other.images)


@pytest.mark.slow
def test_synthetic_benchmark_is_neither_trivial_nor_impossible_for_pca(tmp_path):
    prepared = synthetic_data(tmp_path, {"n_normal": 600, "unlabeled_size": 0, "n_val": 0, "n_test": 200})
    detector = PCADetector.from_preset("paper").fit(TrainData(prepared.split("train_normal")))
    test = prepared.split("test")
    auc = roc_auc_score(test.labels, detector.score(test))
    assert 0.72 <= auc <= 0.95
