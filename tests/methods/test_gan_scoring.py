"""The GAN detectors' shared restoration scoring: score, map, and restored images at the input's size and
channel count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.core.images import ImageSet
from bench.methods._gan.scoring import anomaly_map, anomaly_score
from bench.methods.healthygan.detector import HealthyGANDetector
from bench.methods.healthygan.networks import Generator
from bench.methods.sagan.detector import SAGANDetector
from bench.methods.sagan.trainer import build_generator


def test_score_is_mean_absolute_difference_over_two():
    x = torch.full((2, 1, 4, 4), -1.0)
    restored = x.clone()
    restored[0] = 1.0  # every pixel off by 2
    restored[1, 0, 0, :] = 0.0  # 4 of 16 pixels off by 1
    torch.testing.assert_close(anomaly_score(x, restored), torch.tensor([1.0, 4 / 16 / 2]))
    assert anomaly_map(x, restored).shape == (2, 4, 4)


def _images(n: int, channels: int, size: int) -> ImageSet:
    pixels = np.random.default_rng(0).integers(0, 256, (n, channels, size, size), dtype=np.uint8)
    return ImageSet(pixels, np.zeros(n, dtype=int), np.array([str(i) for i in range(n)]))


def _untrained(cls, overrides, generator):
    detector = cls.from_preset("smoke", overrides, seed=0, device="cpu")
    detector.load_state_dict({"generator": generator.state_dict(), "size": 32})
    detector.fitted_ = True
    return detector


@pytest.mark.parametrize("model_channels, input_channels", [(3, 1), (1, 3), (1, 1)])
def test_restored_images_match_the_input_size_and_channels(model_channels, input_channels):
    detector = _untrained(HealthyGANDetector, {"channels": model_channels},
                          Generator(model_channels, 16, 2))
    images = _images(5, input_channels, 48)  # the model works at 32 px
    restored = detector.restored_images(images)
    assert restored.shape == images.images.shape and restored.dtype == np.uint8
    maps = detector.anomaly_maps(images)
    assert maps.shape == (5, 48, 48)


def test_healthygan_restored_image_is_the_translation_scored():
    detector = _untrained(HealthyGANDetector, {}, Generator(1, 16, 2))
    images = _images(4, 1, 32)
    restored = detector.restored_images(images).astype(np.float64) / 127.5 - 1
    x = images.images.astype(np.float64) / 127.5 - 1
    # The score is mean |x - x_hat| / 2; from the uint8 restored image it agrees to rounding (1/255 per pixel).
    from_restored = np.abs(x - restored).mean(axis=(1, 2, 3)) / 2
    np.testing.assert_allclose(detector.score(images), from_restored, atol=1 / 255)
    assert detector.score(images).std() > 0


def test_sagan_restored_images_keep_rgb_inputs_rgb():
    detector = _untrained(SAGANDetector, {}, build_generator(SAGANDetector.presets["smoke"]))
    images = _images(3, 3, 32)
    assert detector.restored_images(images).shape == (3, 3, 32, 32)
