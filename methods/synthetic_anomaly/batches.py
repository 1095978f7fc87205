"""Training batches: the official augmentation (resize, RandomRotation(3), CenterCrop(230), RandomCrop(224), scaled to
the run's size) and `patch_ex` per image, seeded per image so the same seed gives the same batch however many
threads build it.

Each image of a batch draws from its own generator, seeded by (seed, epoch, position in the epoch); the source
patch comes from the previous image of the epoch's shuffled order, as the official data set takes it from the
previously drawn image (`prev_idx`). OpenCV releases the GIL, so a thread pool builds a batch in parallel, and
`SyntheticBatches.epoch` builds the next batch while the caller trains on the current one.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator

import cv2
import numpy as np
import torch

from bench.methods.synthetic_anomaly.synthesis import PatchSettings, patch_ex
from bench.methods.synthetic_anomaly.tasks import Task

OFFICIAL_SIZES = (256, 230, 224)  # resize, centre crop, random crop (train_chest_xray.py)


def crop_sizes(image_size: int) -> tuple[int, int]:
    """(resize side, centre-crop side) for a network input of `image_size`: 256 and 230 at the official 224 px,
    scaled in proportion at other sizes (73 and 66 at 64 px)."""
    load, centre, crop = OFFICIAL_SIZES
    return int(round(image_size * load / crop)), int(round(image_size * centre / crop))


def to_gray_resized(images: np.ndarray, side: int) -> np.ndarray:
    """uint8 (N, side, side) from uint8 (N, C, H, W): channels averaged, resized with area interpolation (the
    official code resizes with PIL's antialiasing filter)."""
    gray = images[:, 0] if images.shape[1] == 1 else np.round(images.mean(axis=1)).astype(np.uint8)
    if gray.shape[1:] == (side, side):
        return np.ascontiguousarray(gray)
    return np.stack([cv2.resize(g, (side, side), interpolation=cv2.INTER_AREA) for g in gray])


def centre_crop(images: np.ndarray, size: int) -> np.ndarray:
    """The central size x size window of (..., H, W) arrays (torchvision's CenterCrop offsets)."""
    h, w = images.shape[-2:]
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    return images[..., top:top + size, left:left + size]


def augment(image: np.ndarray, rng: np.random.Generator, *, degrees: float, centre: int, size: int) -> np.ndarray:
    """RandomRotation(degrees) (nearest, fill 0), CenterCrop(centre), RandomCrop(size) of one uint8 (H, W) image."""
    h, w = image.shape
    if degrees > 0:
        angle = rng.uniform(-degrees, degrees)
        matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, 1.0)
        image = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    image = centre_crop(image, centre)
    top, left = rng.integers(0, centre - size + 1), rng.integers(0, centre - size + 1)
    return np.ascontiguousarray(image[top:top + size, left:left + size])


class SyntheticBatches:
    """Synthetic training batches of `task` from known-normal images (uint8 (N, side, side), already resized)."""

    def __init__(self, images: np.ndarray, task: Task, settings: PatchSettings, *, image_size: int, centre: int,
                 degrees: float, batch_size: int, seed: int, workers: int = 0) -> None:
        self.images, self.task, self.settings = images, task, settings
        self.image_size, self.centre, self.degrees = image_size, centre, degrees
        self.batch_size, self.seed, self.workers = batch_size, seed, workers
        self._pool = concurrent.futures.ThreadPoolExecutor(workers) if workers > 0 else None

    @property
    def steps_per_epoch(self) -> int:
        """Batches per epoch: the last one is partial, as a DataLoader without drop_last gives it."""
        return -(-len(self.images) // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The epoch's shuffled image order."""
        return np.random.default_rng([self.seed, epoch, 0]).permutation(len(self.images))

    def sample(self, dest: int, src: int, key: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """One synthetic image and its label, both (S, S), from images `dest` and `src`, drawn by `key`."""
        rng = np.random.default_rng([self.seed, *key])
        kwargs = {"degrees": self.degrees, "centre": self.centre, "size": self.image_size}
        image = augment(self.images[dest], rng, **kwargs)
        source = None if self.task.same else augment(self.images[src], rng, **kwargs)
        return patch_ex(image, source, self.task, rng, self.settings)

    def batch(self, epoch: int, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Batch `index` of `epoch`: images float32 (B, 1, S, S) in [0, 1] (ToTensor), labels float32 (B, 1, S, S)."""
        order = self.order(epoch)
        positions = range(index * self.batch_size, min((index + 1) * self.batch_size, len(order)))
        jobs = [(int(order[p]), int(order[p - 1]), (epoch, p + 1)) for p in positions]
        if self._pool is None:
            pairs = [self.sample(*job) for job in jobs]
        else:
            pairs = list(self._pool.map(lambda job: self.sample(*job), jobs))
        images = np.stack([p[0] for p in pairs])[:, None]
        labels = np.stack([p[1] for p in pairs])[:, None]
        return torch.from_numpy(images).float().div_(255.0), torch.from_numpy(labels.astype(np.float32))

    def epoch(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's batches in order; with workers, the next batch is built while the caller uses this one."""
        if self._pool is None:
            for index in range(self.steps_per_epoch):
                yield self.batch(epoch, index)
            return
        with concurrent.futures.ThreadPoolExecutor(1) as ahead:
            pending = ahead.submit(self.batch, epoch, 0)
            for index in range(self.steps_per_epoch):
                current = pending.result()
                if index + 1 < self.steps_per_epoch:
                    pending = ahead.submit(self.batch, epoch, index + 1)
                yield current

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
