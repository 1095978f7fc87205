"""The self-supervised family's detector: presets per data set, the run facts that say which resolution produced a
number, the map/score relation of the official evaluation, and the cost probe."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.cost import DataShape
from bench.core.images import ImageSet, TrainData
from bench.methods.synthetic_anomaly.detector import CutPasteDetector, FPIDetector, NSADetector, PIIDetector
from bench.methods.synthetic_anomaly.networks import OFFICIAL_PARAMETERS

DETECTORS = (CutPasteDetector, FPIDetector, PIIDetector, NSADetector)


def radiographs(n: int, size: int = 64, seed: int = 0) -> ImageSet:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    body = 60 + 120 * np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (2 * (size / 3) ** 2))
    pixels = np.clip(body[None] + rng.normal(0, 12, (n, size, size)), 0, 255).astype(np.uint8)[:, None]
    return ImageSet(pixels, np.full(n, -1), np.array([f"img{i}" for i in range(n)]))


@pytest.mark.parametrize("cls", DETECTORS)
def test_paper_preset_takes_the_official_epochs_per_data_set(cls):
    assert cls.preset("paper").image_size == 224 and cls.preset("paper").batch_size == 64
    epochs = {name: cls.preset("paper", dataset=name).epochs for name in ("rsna", "vindr", "lag", "synthetic")}
    assert epochs == {"rsna": 250, "vindr": 400, "lag": 250, "synthetic": 240}
    assert cls.preset("paper", {"epochs": "7"}, dataset="vindr").epochs == 7
    assert cls.preset("paper", {"image_size": "64"}).image_size == 64


def test_run_facts_name_the_task_and_resolution_and_the_map_mean_is_the_score():
    detector = NSADetector.from_preset("tiny", {"image_size": "64", "batch_size": "4"}, seed=0, device="cpu")
    detector.fit(TrainData(radiographs(8)))
    info = detector.run_info()
    assert info["task"] == "nsa" and info["resolution"] == "64 px (SAGAN's text)"
    assert info["training"]["parameters"] == info["official_parameters"] == OFFICIAL_PARAMETERS
    assert info["training"]["steps"] == 2 and len(info["training"]["loss_per_epoch"]) == 1
    test = radiographs(3, seed=1)
    with torch.no_grad():
        x = torch.from_numpy(_crop(test.images)).float() / 255
        expected = detector.network_(x).mean(dim=(1, 2, 3)).numpy()
    np.testing.assert_allclose(detector.score(test), expected, rtol=1e-5)
    maps = detector.anomaly_maps(test)
    assert maps.shape == (3, 64, 64) and maps.min() >= 0


def _crop(images: np.ndarray) -> np.ndarray:
    """Resize 64 -> 73 (area), centre crop 64: the official 256 / 224 evaluation at 64 px."""
    import cv2

    resized = np.stack([cv2.resize(im[0], (73, 73), interpolation=cv2.INTER_AREA) for im in images])
    top = int(round((73 - 64) / 2.0))
    return np.ascontiguousarray(resized[:, None, top:top + 64, top:top + 64])


def test_cost_probe_counts_the_official_steps():
    config = CutPasteDetector.preset("tiny")
    probe = CutPasteDetector.cost_probe(config, DataShape("rsna", 64, 1, {"train_normal": 40, "test": 10}),
                                        torch.device("cpu"))
    assert probe.parameters == OFFICIAL_PARAMETERS and probe.steps == 1 * 3  # 1 epoch, ceil(40 / 16) batches
    assert probe.seconds_per_step > 0 and any("bounds it" in note for note in probe.notes)
