"""Fixtures shared by the method tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


def _small_fid_features(images: torch.Tensor) -> torch.Tensor:
    pooled = torch.nn.functional.adaptive_avg_pool2d(images.mean(dim=1, keepdim=True), 4).flatten(1)
    return torch.cat([images.flatten(1).mean(1, keepdim=True), images.flatten(1).std(1, keepdim=True), pooled], 1)


@pytest.fixture
def small_fid_features() -> Callable[[torch.Tensor], torch.Tensor]:
    """A small fixed feature extractor for FID selection (mean, spread and 4x4 pooled intensities); the real one,
    Inception, is tested in test_gan_fid.py."""
    return _small_fid_features
