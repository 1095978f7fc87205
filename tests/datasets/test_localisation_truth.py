"""Localisation ground truth of each data set, on fake official trees: RSNA boxes and VinDr-CXR's fused boxes land
on the right pixels after crop and resize; trees without boxes say why; the synthetic set knows its lesions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bench.core import registry
from bench.datasets.synthetic_images import generate, lesion_mask
from tests.datasets.fake_trees import RSNA_BOXES, write_rsna_tree, write_vindr_tree
from tests.datasets.scaled_protocol import ABNORMAL, NORMAL, make, write_lag_tree, write_medad

pytestmark = pytest.mark.usefixtures("clean_env")


def abnormal_test_ids(prepared) -> list[str]:
    rows = prepared.manifest
    return rows.loc[(rows["split"] == "test") & (rows["label"] == 1), "id"].tolist()


def test_rsna_boxes_land_on_the_right_pixels_at_64_px(tmp_path):
    write_rsna_tree(tmp_path, normal=NORMAL, opacity=ABNORMAL, size=128, syntax="explicit",
                    dark_with_bright_boxes=True)
    prepared = make("rsna", tmp_path, size=64, allow_duplicates=True).prepare()  # the dark normals are alike
    truth = prepared.localisation
    assert truth.available and set(truth.ids) == set(abnormal_test_ids(prepared)) and not truth.missing
    # 128 -> 64 px: x, y, width, height (4, 5, 8, 9) covers original [4, 12) x [5, 14): pixel centres 2j + 1
    # inside give columns 2-5 and rows 2-6; (18, 6, 7, 10) covers [18, 25) x [6, 16): columns 9-11, rows 3-7.
    first = np.zeros((64, 64), dtype=bool)
    first[2:7, 2:6] = True
    both = first.copy()
    both[3:8, 9:12] = True
    labels = pd.read_csv(tmp_path / "stage_2_train_labels.csv")
    for image_id, mask in zip(truth.ids, truth.masks, strict=True):
        n_boxes = int((labels["patientId"] == image_id).sum())
        np.testing.assert_array_equal(mask, both if n_boxes == len(RSNA_BOXES) else first)
        image = prepared.images[prepared.manifest.index[prepared.manifest["id"] == image_id][0], 0]
        assert image[mask].min() > 100 and image[~mask].max() < 150, "the decoded box is where the mask is"


def test_vindr_pixels_count_where_two_of_three_radiologists_boxed_them_after_squashing(tmp_path):
    # 40 rows x 80 columns squashed to 32 x 32: x scales by 2.5, y by 1.25. R1 and R2 overlap in x [10, 20),
    # y [10, 25): pixel centres 2.5 (j + 0.5) and 1.25 (i + 0.5) inside give columns 4-7 and rows 8-19.
    write_vindr_tree(tmp_path, normal=NORMAL, abnormal=ABNORMAL, size=80, height=40,
                     reader_boxes=((3.0, 4.0, 20.0, 25.0), (10.0, 10.0, 30.0, 30.0), None))
    prepared = make("vindr", tmp_path).prepare()
    truth = prepared.localisation
    assert "at least 2 of the radiologists" in truth.rule
    expected = np.zeros((32, 32), dtype=bool)
    expected[8:20, 4:8] = True
    assert set(truth.ids) == set(abnormal_test_ids(prepared)) and len(truth.ids) == 2
    for mask in truth.masks:
        np.testing.assert_array_equal(mask, expected)


def test_a_vindr_image_boxed_by_one_radiologist_of_three_has_no_mask_and_is_left_out(tmp_path):
    write_vindr_tree(tmp_path, normal=NORMAL, abnormal=ABNORMAL)  # each finding from one radiologist
    truth = make("vindr", tmp_path).prepare().localisation
    assert not truth.available and len(truth.missing) == 2
    assert "none of the 2 abnormal test images has a mask" in truth.reason
    assert all("fusion rule" in why for why in truth.missing.values())


def test_vindr_png_exports_get_no_mask_because_the_boxes_are_in_dicom_pixels(tmp_path):
    write_vindr_tree(tmp_path, normal=NORMAL, abnormal=ABNORMAL, image_format="png",
                     reader_boxes=((3.0, 4.0, 20.0, 25.0),) * 3)
    truth = make("vindr", tmp_path).prepare().localisation
    assert not truth.available and "PNG/JPEG export" in truth.reason


@pytest.mark.parametrize(("name", "why"), [("lag", "LAG ships no lesion boxes or masks"),
                                           ("medad", "Med-AD tree (data.json) carries no lesion boxes")])
def test_trees_without_boxes_say_there_is_no_ground_truth(tmp_path, name, why):
    if name == "lag":
        write_lag_tree(tmp_path, negative=NORMAL, glaucoma=ABNORMAL)
    else:
        write_medad(tmp_path)
    truth = make(name, tmp_path).prepare().localisation
    assert not truth.available and truth.reason.startswith("no localisation ground truth") and why in truth.reason


@pytest.mark.parametrize("name", ["covidx", "chestxray14"])
def test_covidx_and_chestxray14_say_there_is_no_ground_truth(name):
    adapter = registry.get_dataset(name)(None)
    reason = adapter.localisation_truth(pd.DataFrame(columns=["id", "path", "label", "split"]))
    assert reason.startswith("no localisation ground truth") and "ships no lesion boxes or masks" in reason


def test_synthetic_masks_hold_what_the_generator_added():
    for seed in range(5):
        normal, _ = generate(seed, 128, abnormal=False)
        abnormal, lesions = generate(seed, 128, abnormal=True)
        added = abnormal.astype(float) - normal.astype(float)
        mask = lesion_mask(lesions, 128)
        assert added[mask].mean() > 4 * max(added[~mask].mean(), 0.5)
        assert added[mask].sum() > 0.5 * added.sum(), "most of the added opacity lies in the mask"


def test_the_synthetic_set_writes_its_masks_and_rebuilds_missing_ones(tmp_path):
    from bench.testing import synthetic_data

    options = {"n_normal": 8, "unlabeled_size": 0, "n_val": 2, "n_test": 4, "generate_size": 64}
    prepared = synthetic_data(tmp_path / "syn", options)
    truth = prepared.localisation
    assert truth.available and len(truth.ids) == 4 and all(m.any() for m in truth.masks)
    for mask_file in (tmp_path / "syn" / "masks").iterdir():
        mask_file.unlink()
    rebuilt = synthetic_data(tmp_path / "syn", options).localisation
    np.testing.assert_array_equal(rebuilt.masks, truth.masks)
    assert len(list((tmp_path / "syn" / "masks").iterdir())) == 4
