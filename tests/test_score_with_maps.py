"""`Detector.score_with_maps`: the scores of every image and the maps of the kept rows from one pass
(`gather_scores_and_maps`), and the fall-back to two passes where a subclass changed its scores or maps only."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core import registry
from bench.core.detector import Detector, _one_pass_is_current, gather_scores_and_maps
from bench.core.images import TrainData
from bench.methods.pca.detector import PCADetector


def batches_of(scores: np.ndarray, maps: np.ndarray | None, size: int, *, tensors: bool):
    for start in range(0, len(scores), size):
        part = None if maps is None else maps[start:start + size]
        if tensors:
            yield torch.from_numpy(scores[start:start + size]), None if part is None else torch.from_numpy(part)
        else:
            yield scores[start:start + size], part


@pytest.mark.parametrize("tensors", [False, True])
def test_gather_keeps_every_score_and_the_kept_maps_in_the_order_asked(tensors):
    rng = np.random.default_rng(0)
    scores, maps = rng.random(11), rng.random((11, 4, 5)).astype(np.float32)
    keep = np.array([9, 0, 4, 5])
    got_scores, got_maps = gather_scores_and_maps(batches_of(scores, maps, 3, tensors=tensors), 11, keep, (4, 5))
    np.testing.assert_array_equal(got_scores, scores)
    np.testing.assert_array_equal(got_maps, maps[keep])


def test_gather_without_maps_gives_none_and_checks_the_count():
    scores = np.arange(7.0)
    got_scores, got_maps = gather_scores_and_maps(batches_of(scores, None, 2, tensors=False), 7, np.array([1]), (2, 2))
    assert got_maps is None
    np.testing.assert_array_equal(got_scores, scores)
    with pytest.raises(RuntimeError, match="7 scores for 8 images"):
        gather_scores_and_maps(batches_of(scores, None, 2, tensors=False), 8, np.array([1]), (2, 2))
    with pytest.raises(RuntimeError, match="scores for 6 images"):
        gather_scores_and_maps(batches_of(scores, None, 2, tensors=False), 6, np.array([1]), (2, 2))


class PCAWithOtherMaps(PCADetector):
    name = "pca_other_maps"

    def _anomaly_maps(self, images):
        return super()._anomaly_maps(images) * 2


def test_a_subclass_that_changes_its_maps_only_falls_back_to_two_passes(tiny_data):
    assert _one_pass_is_current(PCADetector) and not _one_pass_is_current(PCAWithOtherMaps)
    detector = PCAWithOtherMaps.from_preset("tiny", device="cpu").fit(TrainData(tiny_data.split("train_normal")))
    test = tiny_data.split("test")
    keep = np.array([3, 1])
    _, maps = detector.score_with_maps(test, keep)
    np.testing.assert_array_equal(maps, detector.anomaly_maps(test.subset(keep)))


# every registered method has maps today; one without them has no second pass to save
METHODS_WITH_MAPS = [n for n in registry.methods.names()
                     if registry.methods.get(n)._anomaly_maps is not Detector._anomaly_maps]


@pytest.mark.parametrize("name", METHODS_WITH_MAPS)
def test_every_method_with_maps_has_its_one_pass_in_use(name):
    """A registered method whose maps come from its scoring pass computes both at once (no second pass)."""
    assert _one_pass_is_current(registry.methods.get(name)), f"{name}: maps but no current `_scores_and_maps`"
