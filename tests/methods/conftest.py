"""Fixtures shared by the method tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from bench.core.progress import Progress, ProgressTask


def _small_fid_features(images: torch.Tensor) -> torch.Tensor:
    pooled = torch.nn.functional.adaptive_avg_pool2d(images.mean(dim=1, keepdim=True), 4).flatten(1)
    return torch.cat([images.flatten(1).mean(1, keepdim=True), images.flatten(1).std(1, keepdim=True), pooled], 1)


@pytest.fixture
def small_fid_features() -> Callable[[torch.Tensor], torch.Tensor]:
    """A small fixed feature extractor for FID selection (mean, spread and 4x4 pooled intensities); the real one,
    Inception, is tested in test_gan_fid.py."""
    return _small_fid_features


class InterruptAt(Progress):
    """Raises KeyboardInterrupt when the progress bar reaches `iteration`, as Ctrl-C during training does."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def task(self, description: str, total: int | None = None, completed: int = 0) -> ProgressTask:
        stop = self.iteration

        class Bar(ProgressTask):
            done = completed

            def advance(self, n: int = 1, **fields) -> None:
                self.done += n
                if self.done >= stop:
                    raise KeyboardInterrupt

        return Bar()


@pytest.fixture
def interrupt_at() -> type[InterruptAt]:
    """`interrupt_at(n)`: a Progress that stops a fit with KeyboardInterrupt at iteration n."""
    return InterruptAt
