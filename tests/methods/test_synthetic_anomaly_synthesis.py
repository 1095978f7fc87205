"""The synthesis core (methods/synthetic_anomaly/synthesis.py) against its definition, on seeded images.

The core was also checked against the official `patch_ex` (hmsch/natural-synthetic-anomalies HEAD, run in a scratch
folder with NumPy's global draws routed to the same Generator): identical images and labels on 160 cases (40 per
task, 64 and 224 px). That check needs the official code, so it is not repeated here.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import stats
from skimage.filters import median
from skimage.morphology import disk

from bench.methods.synthetic_anomaly.batches import SyntheticBatches, crop_sizes
from bench.methods.synthetic_anomaly.synthesis import (
    PatchSettings,
    _one_patch,
    disk_median_near,
    half_widths,
    object_mask,
    patch_ex,
    poisson_clone,
)
from bench.methods.synthetic_anomaly.tasks import TASKS

SETTINGS = PatchSettings()


def radiograph(seed: int, size: int = 64) -> np.ndarray:
    """A bright smooth body on a dark border with noise: mostly object, a background strip on the left."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    body = 60 + 120 * np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (2 * (size / 3) ** 2))
    image = body + rng.normal(0, 12, (size, size))
    image[:, : size // 10] = 0
    return np.clip(image, 0, 255).astype(np.uint8)


def test_half_widths_follow_the_gamma_rule_within_bounds():
    """20,000 draws at 224 px: every half-width within [round(0.03 s), round(0.4 s)], and the distribution is the
    clipped, truncated gamma rule: a KS test against fresh draws of int(clip((0.05 + Gamma(2, 0.03)) s)) made with
    scipy (an independent sampler) keeps p > 0.001, and the mean is within 0.2 px of the rule's exact mean."""
    side, n = 224, 20_000
    rng = np.random.default_rng(0)
    draws = np.array([half_widths(rng, (side, side), SETTINGS) for _ in range(n // 2)]).ravel()
    low, high = SETTINGS.width_bounds(side)
    assert (low, high) == (7, 90)
    assert draws.min() >= low and draws.max() <= high
    reference = np.clip((0.05 + stats.gamma(a=2, scale=0.03).rvs(n, random_state=1)) * side, low, high).astype(int)
    assert stats.ks_2samp(draws, reference).pvalue > 1e-3
    grid = np.linspace(0, 2, 400_001)  # the exact mean of the truncated, clipped rule by quadrature
    density = stats.gamma(a=2, scale=0.03).pdf(grid)
    expected = np.sum(np.floor(np.clip((0.05 + grid) * side, low, high)) * density) * (grid[1] - grid[0])
    assert abs(draws.mean() - expected) < 0.2
    # A wrong rule is caught: uniform half-widths over the bounds (the official default without gamma_params).
    uniform = rng.integers(low, high, n)
    assert stats.ks_2samp(uniform, reference).pvalue < 1e-6


@pytest.mark.parametrize("name", list(TASKS))
def test_a_blank_image_stays_unchanged(name):
    """No object anywhere: every patch location fails the object test 200 times, so nothing is pasted."""
    blank = np.zeros((64, 64), dtype=np.uint8)
    image, label = patch_ex(blank, blank.copy(), TASKS[name], np.random.default_rng(0))
    assert np.array_equal(image, blank) and not label.any()


def test_the_retry_limit_is_200_attempts():
    """A draw that cannot fit consumes exactly 200 source-centre draws: a generator advanced by those draws (two
    gamma draws, then 200 pairs of integers) is where the core's own generator ends up."""
    blank = np.zeros((64, 64), dtype=np.uint8)
    objects = object_mask(blank, SETTINGS)
    rng = np.random.default_rng(5)
    out, placement = _one_patch(blank, blank, objects, objects, TASKS["cutpaste"], 1.0, rng, SETTINGS)
    assert placement is None and np.array_equal(out, blank)
    twin = np.random.default_rng(5)
    twin.gamma(2, 0.03), twin.gamma(2, 0.03)
    for _ in range(200):
        twin.integers(2, 62), twin.integers(2, 62)
    assert rng.integers(1 << 30) == twin.integers(1 << 30)


def changed_mask(dest: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The label's support, computed from its definition: |change| > 1, median blur 5 (patch pixels only; outside the
    patches nothing changes for swap / uniform, and Poisson changes only the mask's box)."""
    return cv2.medianBlur((np.abs(dest.astype(float) - out.astype(float)) > 1).astype(np.uint8), 5)


@pytest.mark.parametrize("seed", range(6))
def test_cutpaste_label_is_the_binary_changed_mask(seed):
    dest = radiograph(seed)
    out, label = patch_ex(dest, None, TASKS["cutpaste"], np.random.default_rng(seed))
    assert set(np.unique(label)) <= {0.0, 1.0}
    np.testing.assert_array_equal(label, changed_mask(dest, out))
    assert label.sum() > 0  # seeds on which the patch found a place (the object covers ~90 %)


@pytest.mark.parametrize("seed", range(6))
def test_fpi_label_is_the_factor_times_the_changed_mask_and_the_blend_is_convex(seed):
    dest, src = radiograph(seed), radiograph(seed + 100)
    rng = np.random.default_rng(seed)
    factor = np.random.default_rng(seed).uniform(0.05, 0.95)  # the first draw is the factor
    out, label = patch_ex(dest, src, TASKS["fpi"], rng)
    np.testing.assert_allclose(label, changed_mask(dest, out) * factor)
    changed = out != dest
    assert changed.any()
    blend = np.floor(dest * (1 - factor) + factor * src.astype(float))
    # Later patches blend into the first patch's result, so compare where only one patch can have acted: the
    # changed pixels equal the one-step convex blend or lie between dest and src.
    low, high = np.minimum(dest, src).astype(float) - 1, np.maximum(dest, src).astype(float) + 1
    assert np.all((out[changed] >= low[changed]) & (out[changed] <= high[changed]))
    assert np.mean(out[changed] == blend[changed]) > 0.5


@pytest.mark.parametrize("seed", range(4))
def test_pii_label_is_the_factor_times_the_changed_mask(seed):
    dest, src = radiograph(seed), radiograph(seed + 100)
    factor = np.random.default_rng(seed).uniform(0.05, 0.95)
    out, label = patch_ex(dest, src, TASKS["pii"], np.random.default_rng(seed))
    np.testing.assert_allclose(label, changed_mask(dest, out) * factor)


@pytest.mark.parametrize("seed", range(4))
def test_nsa_label_is_the_logistic_of_the_median_intensity_change(seed):
    dest, src = radiograph(seed, 128), radiograph(seed + 100, 128)
    out, label = patch_ex(dest, src, TASKS["nsa"], np.random.default_rng(seed))
    support = changed_mask(dest, out)
    intensity = median(np.abs(support * dest.astype(float) - support * out.astype(float)), disk(5))
    np.testing.assert_allclose(label, support / (1 + np.exp(-0.5 * (intensity - 4))))
    assert np.all((label >= 0) & (label < 1))


@pytest.mark.parametrize("seed", range(4))
def test_the_windowed_disk_median_equals_the_whole_image_median_where_it_is_used(seed):
    rng = np.random.default_rng(seed)
    where = np.zeros((96, 96), np.uint8)
    r, c = rng.integers(0, 80, 2)
    where[r:r + rng.integers(3, 16), c:c + rng.integers(3, 16)] = 1
    where[-rng.integers(1, 8):, : rng.integers(1, 20)] = 1  # a region at the image border
    values = (rng.integers(0, 256, where.shape) * where).astype(float)
    full = median(values, disk(5))
    np.testing.assert_array_equal(disk_median_near(values, where, 5)[where > 0], full[where > 0])


def test_poisson_blend_equals_opencv_mixed_clone():
    """A fixed case: the core's clone equals cv2.seamlessClone(MIXED_CLONE) on 3-channel images with zero
    channels 2 and 3 (the official padding), and differs from NORMAL_CLONE (the mode matters). OpenCV writes into
    its mask argument, so each call gets a fresh mask; the core's wrapper leaves the caller's mask as it was and
    gives the same blend when called again."""
    dest, src = radiograph(1, 96), radiograph(2, 96)
    patch = np.ascontiguousarray(src[20:60, 30:70])
    mask = np.full(patch.shape, 255, np.uint8)
    mask[0], mask[-1], mask[:, 0], mask[:, -1] = 0, 0, 0, 0
    kept = mask.copy()
    ours = poisson_clone(patch, dest, mask, (50, 40))
    assert np.array_equal(mask, kept)
    np.testing.assert_array_equal(poisson_clone(patch, dest, mask, (50, 40)), ours)

    def pad(a: np.ndarray) -> np.ndarray:
        return np.dstack([a, np.zeros_like(a), np.zeros_like(a)])

    mixed = cv2.seamlessClone(pad(patch), pad(dest), kept.copy(), (50, 40), cv2.MIXED_CLONE)[..., 0]
    normal = cv2.seamlessClone(pad(patch), pad(dest), kept.copy(), (50, 40), cv2.NORMAL_CLONE)[..., 0]
    np.testing.assert_array_equal(ours, mixed)
    assert not np.array_equal(ours, normal) and not np.array_equal(ours, dest)


def test_cutpaste_pastes_the_same_image_shifted():
    """CutPaste's changed pixels hold values of the image itself (hard paste), and the label marks them."""
    dest = radiograph(3)
    out, label = patch_ex(dest, radiograph(99), TASKS["cutpaste"], np.random.default_rng(3))
    assert set(np.unique(out[out != dest])) <= set(np.unique(dest))
    assert label[out != dest].mean() > 0.8


@pytest.mark.parametrize("name", list(TASKS))
def test_same_seed_gives_the_same_batch_whatever_the_threads(name):
    images = np.stack([radiograph(s, 73) for s in range(12)])
    _, centre = crop_sizes(64)

    def make(seed: int, workers: int):
        batches = SyntheticBatches(images, TASKS[name], SETTINGS, image_size=64, centre=centre, degrees=3,
                                   batch_size=8, seed=seed, workers=workers)
        try:
            return batches.batch(0, 1)
        finally:
            batches.close()

    x1, y1 = make(7, 0)
    x2, y2 = make(7, 3)
    x3, _ = make(8, 0)
    assert x1.shape == (4, 1, 64, 64) and y1.shape == x1.shape  # batch 1 of 12 images at batch 8: the last 4
    assert np.array_equal(x1, x2) and np.array_equal(y1, y2)
    assert not np.array_equal(x1, x3)
