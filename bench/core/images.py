"""The image containers every stage passes along: `ImageSet` (uint8 images, labels, ids, boxes) and `TrainData`
(what `Detector.fit` sees). numpy only: the data stage builds them without importing torch."""

from __future__ import annotations

import dataclasses

import numpy as np

from bench.core.errors import BenchError


@dataclasses.dataclass(frozen=True, eq=False)
class ImageSet:
    """Images as uint8 (N, C, H, W) (array or memmap), labels (N,) with -1 for unknown, ids (N,), optional boxes."""

    images: np.ndarray
    labels: np.ndarray
    ids: np.ndarray
    boxes: tuple | None = None

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"ImageSet.images must be uint8 (N, C, H, W), got {self.images.dtype} {self.images.shape}")
        n = len(self.images)
        if len(self.labels) != n or len(self.ids) != n:
            raise ValueError(f"ImageSet: {n} images but {len(self.labels)} labels and {len(self.ids)} ids")
        if self.boxes is not None and len(self.boxes) != n:
            raise ValueError(f"ImageSet: {n} images but {len(self.boxes)} box lists")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def subset(self, indices: np.ndarray | list[int] | slice) -> ImageSet:
        """The images at `indices` (copied into memory), with their labels, ids and boxes."""
        idx = np.arange(len(self))[indices]
        boxes = None if self.boxes is None else tuple(self.boxes[i] for i in idx)
        return ImageSet(np.ascontiguousarray(self.images[idx]), self.labels[idx].copy(), self.ids[idx].copy(), boxes)

    def without_labels(self) -> ImageSet:
        """The same images with every label set to -1 (how unlabeled training data reaches `fit`)."""
        return ImageSet(self.images, np.full(len(self), -1, dtype=np.int64), self.ids, None)

    @classmethod
    def concatenate(cls, sets: list[ImageSet]) -> ImageSet:
        """One set holding all images of `sets`, in order."""
        boxes = None
        if all(s.boxes is not None for s in sets):
            boxes = tuple(b for s in sets for b in s.boxes)  # type: ignore[union-attr]
        return cls(
            np.concatenate([s.images for s in sets]),
            np.concatenate([s.labels for s in sets]),
            np.concatenate([s.ids for s in sets]),
            boxes,
        )


@dataclasses.dataclass(frozen=True, eq=False)
class TrainData:
    """What `fit` sees: known-normal images and, for semi-supervised methods, unlabeled images (labels -1)."""

    normal: ImageSet
    unlabeled: ImageSet | None = None

    def __post_init__(self) -> None:
        if len(self.normal) == 0:
            raise BenchError("the known-normal training set is empty")
        if self.unlabeled is not None and (self.unlabeled.labels != -1).any():
            raise ValueError("TrainData.unlabeled must carry label -1 (use ImageSet.without_labels())")
