"""Our ImageSet as anomalib sees its own image folders: float RGB in [0, 1], one `ImageItem` per image.

anomalib's `read_image` opens a file, converts it to RGB (grayscale is replicated to three channels) and scales with
torchvision's `to_dtype(..., scale=True)`; `as_anomalib_images` does the same on our uint8 arrays, so the model sees
the same tensor it would see reading our images from PNG files (tests/methods/test_anomalib_scores.py checks it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.core.errors import BenchError
from bench.core.images import ImageSet


def as_anomalib_images(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, C, H, W) with C in {1, 3} -> float32 (N, 3, H, W) in [0, 1], exactly as anomalib's read_image."""
    from torchvision.transforms.v2.functional import to_dtype

    if images.shape[1] not in (1, 3):
        raise BenchError(f"anomalib models take grayscale or RGB images, got {images.shape[1]} channels")
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    if tensor.shape[1] == 1:
        tensor = tensor.expand(-1, 3, -1, -1)
    return to_dtype(tensor.contiguous(), torch.float32, scale=True)


class TrainImages(torch.utils.data.Dataset):
    """Known-normal training images as anomalib `ImageItem`s (label 0, no mask), as a Folder data set yields them."""

    def __init__(self, images: ImageSet) -> None:
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> Any:
        from anomalib.data import ImageItem

        image = as_anomalib_images(self.images.images[index : index + 1])[0]
        return ImageItem(image=image, gt_label=torch.tensor(0), image_path=str(self.images.ids[index]))


def train_datamodule(images: ImageSet, batch_size: int, seed: int, *, with_val: bool = False) -> Any:
    """A Lightning data module with a training loader shuffled by `seed` (anomalib's defaults otherwise: shuffle,
    no dropped last batch, anomalib's collate); `with_val`: also a validation loader over the same normal images.
    Several models read `trainer.datamodule`, hence a module rather than bare loaders."""
    import lightning.pytorch as pl
    from anomalib.data import ImageBatch

    class _TrainOnly(pl.LightningDataModule):
        name = "bench"
        category = ""
        train_batch_size = batch_size

        def train_dataloader(self) -> torch.utils.data.DataLoader:
            return torch.utils.data.DataLoader(
                TrainImages(images), batch_size=batch_size, shuffle=True, num_workers=0,
                collate_fn=ImageBatch.collate, generator=torch.Generator().manual_seed(seed))

        def val_dataloader(self) -> torch.utils.data.DataLoader | list:
            if not with_val:
                return []
            return torch.utils.data.DataLoader(TrainImages(images), batch_size=batch_size, shuffle=False,
                                               num_workers=0, collate_fn=ImageBatch.collate)

    return _TrainOnly()
