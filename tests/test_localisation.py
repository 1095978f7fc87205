"""Localisation metrics (bench.metrics.localisation): pixel AUROC/AP against scikit-learn, AUPRO against anomalib's
implementation and by hand (including the case that gave anomalib <= 2.2 values above 1), the pointing game."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

from bench.metrics.localisation import FPR_LIMIT, aupro, bootstrap_mean_ci, pixel_metrics, pointing_hits


def random_case(seed: int, *, n: int = 6, size: int = 24, levels: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Maps and masks: random rectangles (some images without any), maps brighter inside them plus noise;
    with `levels`, the maps are quantised to that many values (heavy ties)."""
    rng = np.random.default_rng(seed)
    masks = np.zeros((n, size, size), dtype=bool)
    for index in range(n):
        for _ in range(rng.integers(0, 3)):
            top, left = rng.integers(0, size - 4, size=2)
            masks[index, top : top + rng.integers(2, 9), left : left + rng.integers(2, 9)] = True
    masks[0, 1:5, 1:5] = True  # at least one region
    maps = rng.normal(size=masks.shape) + rng.uniform(0.5, 2.0) * masks
    if levels:
        maps = np.round((maps - maps.min()) / np.ptp(maps) * (levels - 1))
    return maps.astype(np.float32), masks


def anomalib_aupro(maps: np.ndarray, masks: np.ndarray) -> float:
    """anomalib's AUPRO (2.x, the MVTec-style global curve) on the same maps and masks."""
    import torch
    from anomalib.metrics.aupro import _AUPRO

    metric = _AUPRO(fpr_limit=FPR_LIMIT)
    metric.update(torch.from_numpy(maps), torch.from_numpy(masks.astype(np.int64)))
    return float(metric.compute())


@pytest.mark.parametrize("levels", [None, 5])
def test_pixel_auroc_and_ap_are_scikit_learns_on_the_pooled_pixels(levels):
    maps, masks = random_case(3, levels=levels)
    values = pixel_metrics(maps, masks)
    assert values["pixel_auroc"] == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-12)
    assert values["pixel_ap"] == pytest.approx(average_precision_score(masks.ravel(), maps.ravel()), abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_aupro_agrees_with_anomalib(seed):
    maps, masks = random_case(seed, levels=[None, 4, 12, 50][seed % 4])
    ours = aupro(maps, masks)
    assert 0.0 <= ours <= 1.0
    assert ours == pytest.approx(anomalib_aupro(maps, masks), abs=2e-5)


def test_aupro_where_the_fpr_stays_below_the_limit_until_the_last_threshold_is_not_above_one():
    """The case that gave anomalib <= 2.2 values above 1: 10 of 390 negative pixels score above the lesion and every
    other pixel ties at 0, so the curve jumps from FPR 10/390 straight to 1. Cut at 0.3 by interpolation and
    divided by 0.3, the area is 1 - (10/390) / 0.3; divided by the last FPR below the limit instead, it is ~10."""
    maps = np.zeros((4, 10, 10), dtype=np.float32)
    masks = np.zeros(maps.shape, dtype=bool)
    masks[0, :2, :5] = True
    maps[0][masks[0]] = 0.9
    maps[1, 0, :] = 0.95  # 10 false positives above the lesion
    expected = 1 - (10 / 390) / FPR_LIMIT
    ours = aupro(maps, masks)
    assert ours == pytest.approx(expected, abs=1e-12)
    assert ours == pytest.approx(anomalib_aupro(maps, masks), abs=1e-6)
    area_to_limit = ours * FPR_LIMIT
    assert area_to_limit / (10 / 390) > 1, "the wrong divisor would exceed 1 here: the case exercises the pitfall"


@pytest.mark.parametrize("seed", range(5))
def test_aupro_stays_in_the_unit_interval_with_heavy_ties(seed):
    maps, masks = random_case(seed + 100, levels=2)
    maps[maps == maps.min()] = 0.0
    value = aupro(maps, masks)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(anomalib_aupro(maps, masks), abs=2e-5)


def test_a_perfect_map_scores_one_and_a_constant_map_the_normalised_diagonal():
    _, masks = random_case(7)
    perfect = pixel_metrics(masks.astype(np.float32), masks)
    assert perfect["pixel_auroc"] == perfect["pixel_ap"] == 1.0
    assert perfect["aupro"] == pytest.approx(1.0, abs=1e-12)
    constant = pixel_metrics(np.zeros(masks.shape, dtype=np.float32), masks)
    assert constant["pixel_auroc"] == 0.5
    assert constant["aupro"] == pytest.approx(FPR_LIMIT / 2)  # the diagonal's area up to 0.3, divided by 0.3
    assert constant["pixel_ap"] == pytest.approx(masks.mean())


def test_aupro_weighs_every_region_equally_whatever_its_size():
    masks = np.zeros((2, 20, 20), dtype=bool)
    masks[0, :2, :2] = True  # a small region, found
    masks[1, 5:19, 5:19] = True  # a large one, missed (scored below every negative)
    maps = np.full(masks.shape, 0.5, dtype=np.float32)
    maps[0, :2, :2] = 1.0
    maps[1, 5:19, 5:19] = 0.0
    values = pixel_metrics(maps, masks)
    assert values["aupro"] == pytest.approx(0.5)
    assert values["pixel_auroc"] < 0.1, "pixel AUROC is dominated by the large missed region"


def test_regions_are_eight_connected():
    masks = np.zeros((1, 6, 6), dtype=bool)
    masks[0, 0, 0] = masks[0, 1, 1] = True  # touch at a corner: one region
    maps = np.zeros(masks.shape, dtype=np.float32)
    maps[0, 0, 0] = 1.0  # half of the one region found first
    maps[0, 1, 1] = 0.5
    # PRO rises 0 -> 0.5 -> 1 at FPR 0, then FPR runs to 1: area up to 0.3 is 0.3, normalised 1.
    assert aupro(maps, masks) == pytest.approx(1.0)
    separate = masks.copy()
    separate[0, 1, 1], separate[0, 2, 2] = False, True
    assert aupro(maps, separate) < 1.0


def test_undefined_metrics_are_none_not_zero():
    maps = np.random.default_rng(0).normal(size=(2, 8, 8)).astype(np.float32)
    values = pixel_metrics(maps, np.zeros(maps.shape, dtype=bool))
    assert values == {"pixel_auroc": None, "pixel_ap": None, "aupro": None}


def test_non_finite_maps_and_mismatched_shapes_are_errors():
    maps, masks = random_case(1)
    maps[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        pixel_metrics(maps, masks)
    with pytest.raises(ValueError, match="one shape"):
        pointing_hits(maps[:, :-1], masks)


def test_pointing_game_hits_where_the_maximum_lies_in_the_mask_and_splits_ties():
    masks = np.zeros((3, 4, 4), dtype=bool)
    masks[:, :2, :2] = True
    maps = np.zeros((3, 4, 4), dtype=np.float32)
    maps[0, 1, 1] = 5.0  # maximum inside
    maps[1, 3, 3] = 5.0  # maximum outside
    maps[2, 0, 0] = maps[2, 3, 3] = 5.0  # two tied maxima, one inside
    np.testing.assert_array_equal(pointing_hits(maps, masks), [1.0, 0.0, 0.5])
    assert pointing_hits(np.ones((1, 4, 4)), masks[:1])[0] == pytest.approx(4 / 16), "a flat map scores its chance"


def test_the_hit_rate_ci_is_a_seeded_percentile_bootstrap_around_the_mean():
    hits = np.array([1.0] * 30 + [0.0] * 10)
    low, high = bootstrap_mean_ci(hits, seed=3)
    assert low < hits.mean() < high and low > 0.5 and high <= 1.0
    assert bootstrap_mean_ci(hits, seed=3) == (low, high)
    assert bootstrap_mean_ci(np.zeros(0)) is None


@pytest.mark.parametrize("block", [1, 3, 17])
def test_pixel_metrics_do_not_depend_on_the_sweeps_block_size(monkeypatch, block):
    """The sorted scores are swept in blocks; tie groups that span blocks must still count as one threshold."""
    from bench.metrics import localisation

    rng = np.random.default_rng(block)
    maps = np.round(rng.random((4, 9, 9)) * 6).astype(np.float32) / 6  # 7 values: long tie groups
    masks = rng.random((4, 9, 9)) < 0.2
    whole = localisation.pixel_metrics(maps, masks)
    monkeypatch.setattr(localisation, "BLOCK_PIXELS", block)
    swept = localisation.pixel_metrics(maps, masks)
    assert swept == pytest.approx(whole, abs=1e-12)
    assert whole["pixel_auroc"] == pytest.approx(roc_auc_score(masks.ravel(), maps.ravel()), abs=1e-12)
