"""Images as DDAD's networks see them: grayscale (PIL's "L" weights for RGB, as the authors' loader converts every
image), resized on the device to the config's size (bilinear, antialiased), scaled to [-1, 1]."""

from __future__ import annotations

import numpy as np
import torch

from bench.core.images import ImageSet
from bench.methods._gan.data import images_to_device, to_unit_range

CHUNK = 256


def grayscale(array: np.ndarray) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, 1, H, W): PIL's ITU-R 601-2 luma L = (19595 R + 38470 G + 7471 B + 2^15) >> 16
    for RGB; 1 channel unchanged."""
    if array.shape[1] == 1:
        return array
    if array.shape[1] != 3:
        raise ValueError(f"DDAD reads 1- or 3-channel images, got {array.shape[1]} channels")
    a = array.astype(np.uint32)
    return ((19595 * a[:, 0] + 38470 * a[:, 1] + 7471 * a[:, 2] + 32768) >> 16).astype(np.uint8)[:, None]


def gray_to_device(images: ImageSet | np.ndarray, device: torch.device, size: int) -> torch.Tensor:
    """uint8 (N, 1, size, size) on `device` (converted to grayscale first, then resized, as the authors' loader)."""
    array = images.images if isinstance(images, ImageSet) else images
    parts = [images_to_device(grayscale(np.asarray(array[start:start + CHUNK])), device, size=size)
             for start in range(0, len(array), CHUNK)]
    if not parts:
        return torch.empty((0, 1, size, size), dtype=torch.uint8, device=device)
    return torch.cat(parts)


def to_input(batch: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 1, H, W) -> float32 in [-1, 1] (the authors' Normalize((0.5,), (0.5,)))."""
    return to_unit_range(batch)
