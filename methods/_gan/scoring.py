"""Restoration scoring shared by the GAN detectors: both turn an image x into a "healthy" x' and score
mean |x - x'| / 2. A detector supplies `_translate` (x -> x' at the model's size, in [-1, 1]); this mixin
batches, scores, maps and restores images with it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.images import ImageSet
from bench.methods._gan.data import images_to_device, to_unit_range


def anomaly_map(images: torch.Tensor, restored: torch.Tensor) -> torch.Tensor:
    """|x - x'| averaged over channels: (B, H, W)."""
    return (images.float() - restored.float()).abs().mean(dim=1)


def anomaly_score(images: torch.Tensor, restored: torch.Tensor) -> torch.Tensor:
    """mean over C, H, W of |x - x'| / 2 per image (in [0, 1] for images in [-1, 1])."""
    return (images.float() - restored.float()).abs().flatten(1).mean(dim=1) / 2


def _to_size(batch: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if tuple(batch.shape[-2:]) == size:
        return batch
    return F.interpolate(batch, size=size, mode="bilinear", align_corners=False)


def _map_at(images: torch.Tensor, restored: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """`anomaly_map` at `size`: (B, H, W)."""
    return _to_size(anomaly_map(images, restored).unsqueeze(1), size)[:, 0]


def _to_channels(batch: torch.Tensor, channels: int) -> torch.Tensor:
    """The model's channels back to the input's: grayscale as RGB, or RGB averaged to grayscale."""
    if batch.shape[1] == channels:
        return batch
    if channels == 1:
        return batch.mean(dim=1, keepdim=True)
    return batch.mean(dim=1, keepdim=True).expand(-1, channels, -1, -1)


class RestorationScoring:
    """Mixin for a `Detector` whose fitted state has `size_` (the model's side length), `config.channels`,
    `config.score_batch_size` and `device`, and which implements `_translate(x) -> x'`."""

    size_: int
    device: torch.device

    def _translate(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _batches(self, images: ImageSet) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """(x at the model size in [-1, 1], x') per batch, in order."""
        step = self.config.score_batch_size  # type: ignore[attr-defined]
        for start in range(0, len(images), step):
            raw = images_to_device(images.images[start:start + step], self.device, size=self.size_)
            x = to_unit_range(raw, self.config.channels)  # type: ignore[attr-defined]
            yield x, self._translate(x)

    def _score_during_fit(self, images: ImageSet) -> np.ndarray:
        """Scores during training (val-auc selection), with the current weights."""
        with torch.no_grad():
            return self._score(images)

    def _score_batch(self, images: torch.Tensor, restored: torch.Tensor) -> torch.Tensor:
        """The score of each image of a batch (x, x'); a detector with another score overrides this."""
        return anomaly_score(images, restored)

    def _score(self, images: ImageSet) -> np.ndarray:
        parts = [self._score_batch(x, restored).cpu() for x, restored in self._batches(images)]
        return torch.cat(parts).double().numpy() if parts else np.zeros(0)

    def _anomaly_maps(self, images: ImageSet) -> np.ndarray:
        """|x - x'| per image, resized to the input's size."""
        maps = [_map_at(x, restored, images.size).cpu() for x, restored in self._batches(images)]
        return torch.cat(maps).numpy().astype(np.float32, copy=False)

    def _scores_and_maps(self, images: ImageSet) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Each batch's scores and maps from one translation."""
        for x, restored in self._batches(images):
            yield self._score_batch(x, restored), _map_at(x, restored, images.size)

    def _restored_images(self, images: ImageSet) -> np.ndarray:
        """x' as uint8 at the input's size and channel count, for qualitative figures."""
        channels = images.images.shape[1]
        parts = []
        for _, restored in self._batches(images):
            restored = _to_channels(_to_size(restored.float(), images.size), channels)
            parts.append(((restored.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu())
        return torch.cat(parts).numpy()
