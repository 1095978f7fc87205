"""Localisation ground truth (bench.data.masks): boxes in original pixels land where the decoded image puts them,
through every crop and resize of bench.data.decode; readers are fused by the stated rule; masks are kept beside
the image cache and made again when their inputs change."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage

from bench.data.decode import crop_window, image_shape, load_image
from bench.data.masks import BoxReads, GroundTruth, MaskFiles, build_ground_truth, fuse_reads, rasterise

GEOMETRIES = [(0.0, "crop"), (0.0, "squash"), (0.2, "crop"), (0.15, "squash")]


def painted(tmp_path, height: int, width: int, box: tuple[float, float, float, float]):
    """A black PNG with one white box (integer edges), and its path."""
    pixels = np.zeros((height, width), dtype=np.uint8)
    x0, y0, x1, y1 = map(int, box)
    pixels[y0:y1, x0:x1] = 255
    path = tmp_path / f"painted-{height}x{width}.png"
    Image.fromarray(pixels).save(path)
    return path


@pytest.mark.parametrize(("crop_top", "square"), GEOMETRIES)
@pytest.mark.parametrize(("height", "width", "box"), [(120, 200, (90, 40, 150, 100)), (200, 120, (10, 70, 60, 190)),
                                                      (256, 256, (30, 100, 110, 160))])
def test_a_box_lands_where_the_decoded_image_shows_it(tmp_path, crop_top, square, height, width, box):
    path = painted(tmp_path, height, width, box)
    decoded = load_image(path, 32, 1, crop_top=crop_top, square=square)[0]
    mask = rasterise([box], crop_window(*image_shape(path), crop_top=crop_top, square=square), 32)
    assert mask.any()
    inner = ndimage.binary_erosion(mask)
    outer = ~ndimage.binary_dilation(mask)
    assert (decoded[inner] > 200).all(), "inside the mask (one pixel in from its edge) the box is white"
    assert (decoded[outer] < 55).all(), "outside it (one pixel out) the image is black"
    bright = decoded > 127
    assert (bright & mask).sum() / (bright | mask).sum() > 0.85


def test_boxes_map_to_exact_pixels_by_their_centres():
    # 128 x 128 at 64 px: pixel j covers original x in [2j, 2j + 2), its centre 2j + 1.
    mask = rasterise([(4.0, 5.0, 12.0, 14.0)], (0, 0, 128, 128), 64)
    expected = np.zeros((64, 64), dtype=bool)
    expected[2:7, 2:6] = True
    np.testing.assert_array_equal(mask, expected)


def test_a_box_smaller_than_a_pixel_marks_the_pixel_holding_its_centre():
    mask = rasterise([(100.2, 50.1, 100.9, 50.6)], (0, 0, 1024, 1024), 64)
    assert mask.sum() == 1 and mask[50 * 64 // 1024, 100 * 64 // 1024]


def test_a_box_cropped_away_marks_nothing():
    window = crop_window(100, 200, square="crop")  # the centre 100 x 100 square: x in [50, 150)
    assert window == (0, 50, 100, 100)
    assert not rasterise([(0.0, 10.0, 40.0, 90.0)], window, 32).any()
    assert rasterise([(140.0, 10.0, 180.0, 90.0)], window, 32)[:, -1].any(), "the visible part still counts"


def test_crop_window_follows_crop_top_then_the_centre_square():
    assert crop_window(100, 80, crop_top=0.1, square="crop") == (10 + 5, 0, 80, 80)
    assert crop_window(100, 80, crop_top=0.1, square="squash") == (10, 0, 90, 80)
    with pytest.raises(ValueError, match="crop or squash"):
        crop_window(10, 10, square="pad")


def test_two_of_three_readers_must_box_a_pixel():
    window = (0, 0, 32, 32)
    first, second = (0.0, 0.0, 20.0, 20.0), (10.0, 10.0, 30.0, 30.0)
    fused = fuse_reads([(first,), (second,), ()], window, 32, min_readers=2)
    np.testing.assert_array_equal(fused, rasterise([(10.0, 10.0, 20.0, 20.0)], window, 32))
    assert not fuse_reads([(first,), (), ()], window, 32, min_readers=2).any(), "one reader of three is not enough"
    assert fuse_reads([(first,)], window, 32, min_readers=2).sum() == 400, "a lone reader counts alone"


def manifest_of(rows: list[tuple[str, str, int, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "path", "label", "split"])


def test_masks_are_made_for_abnormal_test_images_and_kept_until_their_boxes_change(tmp_path):
    for name in ("a", "b", "c", "d"):
        Image.fromarray(np.zeros((64, 64), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    table = manifest_of([("a", "a.png", 1, "test"), ("b", "b.png", 0, "test"), ("c", "c.png", 1, "train_unlabeled"),
                         ("d", "d.png", 1, "test")])
    reads = {"a": (((8.0, 8.0, 24.0, 24.0),),), "c": (((0.0, 0.0, 8.0, 8.0),),)}
    source = BoxReads(reads, "rule", "boxes.csv")
    truth = build_ground_truth(source, table, tmp_path, tmp_path / "cache", "split1", size=32)
    assert truth.available and list(truth.ids) == ["a"] and truth.masks[0].sum() == 64
    assert truth.missing == {"d": "no boxes listed"}
    stored = tmp_path / "cache" / "localisation-split1.npz"
    assert stored.is_file()
    again = build_ground_truth(source, table, tmp_path, tmp_path / "cache", "split1", size=32)
    np.testing.assert_array_equal(again.masks, truth.masks)
    assert again.truth_id == truth.truth_id
    moved = BoxReads({"a": (((0.0, 0.0, 16.0, 16.0),),)}, "rule", "boxes.csv")
    changed = build_ground_truth(moved, table, tmp_path, tmp_path / "cache", "split1", size=32)
    assert changed.truth_id != truth.truth_id and changed.masks[0, 0, 0] and not changed.masks[0, 15, 15]
    reread = build_ground_truth(moved, table, tmp_path, tmp_path / "cache", "split1", size=32)
    np.testing.assert_array_equal(reread.masks, changed.masks)


def test_mask_files_follow_the_image_geometry(tmp_path):
    painted(tmp_path, 120, 200, (90, 40, 150, 100)).rename(tmp_path / "mask.png")
    Image.fromarray(np.zeros((120, 200), dtype=np.uint8)).save(tmp_path / "image.png")
    table = manifest_of([("x", "image.png", 1, "test")])
    truth = build_ground_truth(MaskFiles({"x": "mask.png"}, "rule", "masks/"), table, tmp_path, tmp_path / "c",
                               "s", size=32, crop_top=0.2, square="crop")
    expected = rasterise([(90, 40, 150, 100)], crop_window(120, 200, crop_top=0.2), 32)
    assert (truth.masks[0] & expected).sum() / (truth.masks[0] | expected).sum() > 0.8


def test_without_ground_truth_the_reason_is_kept_and_lookups_find_nothing():
    truth = GroundTruth.absent("no localisation ground truth: LAG ships no lesion boxes or masks")
    assert not truth.available
    masks, found = truth.lookup(["a", "b"])
    assert masks is None and not found.any()
