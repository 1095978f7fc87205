"""PCA at full scale: the eigendecomposition fit scores like scikit-learn's full-SVD PCA (within SCORE_RTOL, on the
learning split and with more images than pixels), keeps float32, and the dry run's memory estimate bounds the
peak RSS measured around a real fit and scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA

from bench.core.cost import DataShape, peak_memory, random_images
from bench.core.images import TrainData
from bench.methods.pca.detector import SCORE_RTOL, PCAConfig, PCADetector, _flatten, memory_bytes


def sklearn_scores(train: np.ndarray, test: np.ndarray, n_components: float) -> tuple[np.ndarray, int]:
    """Scores of the exact reference: scikit-learn's PCA with the full SVD (what the detector used before)."""
    reference = PCA(n_components=n_components, svd_solver="full").fit(_flatten(train))
    features = _flatten(test)
    return ((features - reference.inverse_transform(reference.transform(features))) ** 2).mean(axis=1), \
        int(reference.n_components_)


def relative_difference(ours: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(ours - reference).max() / np.abs(reference).max())


def test_scores_equal_the_full_svd_on_the_learning_split(learning_data):
    train, test = learning_data.split("train_normal"), learning_data.split("test")
    assert len(train) <= int(np.prod(train.images.shape[1:]))  # fewer images than pixels: the Gram path
    for n_components in (0.95, 0.5, 7):
        detector = PCADetector(PCAConfig(n_components=n_components), seed=0, device="cpu")
        detector.fit(TrainData(train))
        reference, k = sklearn_scores(train.images, test.images, n_components)
        assert detector.pca_.n_components_ == k
        assert detector.pca_.components_.dtype == np.float32
        assert relative_difference(detector._score(test), reference) <= SCORE_RTOL, n_components


def test_scores_equal_the_full_svd_with_more_images_than_pixels():
    rng = np.random.default_rng(0)
    structure = rng.standard_normal((900, 12)) @ rng.standard_normal((12, 256))
    images = np.clip(128 + 20 * structure + 5 * rng.standard_normal((900, 256)), 0, 255).astype(np.uint8)
    images = images.reshape(900, 1, 16, 16)
    train, test = random_images(800, 1, 16), random_images(100, 1, 16, seed=1)
    train.images[:], test.images[:] = images[:800], images[800:]
    detector = PCADetector(PCAConfig(), seed=0, device="cpu")
    detector.fit(TrainData(train))
    reference, k = sklearn_scores(train.images, test.images, 0.95)
    assert detector.pca_.n_components_ == k
    assert relative_difference(detector._score(test), reference) <= SCORE_RTOL


def test_the_memory_estimate_bounds_the_measured_peak():
    """3,000 images of 96 x 96: the data-dependent part (about 300 MB) is well above the RSS noise (10 MB)."""
    n, size, scored = 3000, 96, 600
    shape = DataShape("probe", size, 1, {"train_normal": n, "test": scored, "val": 0})
    estimate = PCADetector.cost_probe(PCADetector.presets["paper"], shape, torch.device("cpu")).peak_memory_mb
    train, test = random_images(n, 1, size), random_images(scored, 1, size, seed=1)
    detector = PCADetector(PCADetector.presets["paper"], seed=0, device="cpu")
    with peak_memory(torch.device("cpu")) as peak:
        detector.fit(TrainData(train))
        detector._score(test)
    grown = memory_bytes(n, size * size, scored) / 2**20
    print(f"estimate {estimate:.0f} MB, measured {peak.mb:.0f} MB, data-dependent part {grown:.0f} MB")
    assert peak.mb <= estimate
    assert estimate <= peak.mb + 0.5 * grown  # a bound, not a guess: within half of what the data adds


def test_eigensolver_estimate_grows_as_m_cubed_beyond_the_cache(monkeypatch):
    """Past the last-level cache the solve is timed once at the cache's side and scaled by m^3; below it two small
    solves give c m^3 + d m^2 (small fits never pay for the large solve)."""
    from bench.methods.pca import detector as pca

    small = pca.eigensolver_seconds(500)
    assert 0 < small(100) < small(400)
    monkeypatch.setattr(pca, "last_level_cache_bytes", lambda: 4 * 1200**2)  # a 1,800-side matrix outgrows it
    timed_sides = []
    real = pca._time_eigh
    monkeypatch.setattr(pca, "_time_eigh", lambda side, rng: timed_sides.append(side) or real(side, rng))
    large = pca.eigensolver_seconds(10_000)
    assert timed_sides == [*pca.EIGH_TIMED_SIDES, int(pca.EIGH_PAST_CACHE * 1200)]
    assert large(10_000) == pytest.approx(large(5_000) * 8)
    assert pca.last_level_cache_bytes() > 0
