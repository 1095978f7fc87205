"""Training data on the device: images move once as uint8, batches are drawn and normalised there.

No per-step host work: the permutation, the batch gather, the flip and the [-1, 1] scaling all run on the
device from a device-side generator whose state is part of every checkpoint (exact resume).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.images import ImageSet


def images_to_device(images: ImageSet | np.ndarray, device: torch.device, *, size: int | None = None,
                     chunk: int = 256) -> torch.Tensor:
    """uint8 (N, C, H, W) on `device`, resized to `size` x `size` there when `size` differs (bilinear,
    antialiased, rounded back to uint8 so the set keeps a quarter of float32's memory)."""
    array = images.images if isinstance(images, ImageSet) else images
    parts = []
    for start in range(0, len(array), chunk):
        part = torch.from_numpy(np.ascontiguousarray(array[start:start + chunk])).to(device)
        if size is not None and tuple(part.shape[-2:]) != (size, size):
            resized = F.interpolate(part.float(), size=(size, size), mode="bilinear", antialias=True,
                                    align_corners=False)
            part = resized.round_().clamp_(0, 255).to(torch.uint8)
        parts.append(part)
    if not parts:
        shape = (0, array.shape[1], size or array.shape[2], size or array.shape[3])
        return torch.empty(shape, dtype=torch.uint8, device=device)
    return torch.cat(parts)


def to_unit_range(batch: torch.Tensor, channels: int | None = None) -> torch.Tensor:
    """uint8 -> float32 in [-1, 1]; a 1-channel batch is repeated to `channels` (grayscale as RGB)."""
    x = batch.float().div_(127.5).sub_(1.0)
    if channels is not None and x.shape[1] != channels:
        if x.shape[1] == 1:
            x = x.repeat(1, channels, 1, 1)
        elif channels == 1:
            x = x.mean(dim=1, keepdim=True)
        else:
            raise ValueError(f"cannot map {x.shape[1]} image channels to {channels}")
    return x


def split_holdout(n: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(kept, held_out) sorted indices of range(n), `count` of them held out, drawn by `seed`."""
    count = max(0, min(count, n - 1))
    order = np.random.default_rng(seed).permutation(n)
    return np.sort(order[count:]), np.sort(order[:count])


class DeviceSampler:
    """Draws batches from named image sets (e.g. {"A": mixed, "B": healthy}) without replacement within an
    epoch of each set, with an optional random horizontal flip per image, all on the sets' device.

    `last_indices[name]`: the indices into `sets[name]` of the last batch's images (for steps that draw more
    images from a set, e.g. SAGAN's pseudo-anomaly sources); `generator` may serve such draws (it is
    checkpointed with the sampler)."""

    def __init__(self, sets: Mapping[str, torch.Tensor], batch_size: int, *, seed: int,
                 channels: int | None = None, hflip: bool = False) -> None:
        if not sets:
            raise ValueError("DeviceSampler needs at least one image set")
        self.sets = dict(sets)
        self.batch_size = batch_size
        self.channels = channels
        self.hflip = hflip
        self.device = next(iter(self.sets.values())).device
        for name, images in self.sets.items():
            if len(images) == 0:
                raise ValueError(f"image set {name!r} is empty")
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self._order = {name: self._permutation(len(images)) for name, images in self.sets.items()}
        self._position = dict.fromkeys(self.sets, 0)
        self.last_indices: dict[str, torch.Tensor] = {}

    def _permutation(self, n: int) -> torch.Tensor:
        return torch.randperm(n, generator=self.generator, device=self.device)

    def _indices(self, name: str) -> torch.Tensor:
        n, taken, picks = len(self.sets[name]), 0, []
        while taken < self.batch_size:
            position = self._position[name]
            if position >= n:
                self._order[name], position = self._permutation(n), 0
            step = min(self.batch_size - taken, n - position)
            picks.append(self._order[name][position:position + step])
            self._position[name] = position + step
            taken += step
        return picks[0] if len(picks) == 1 else torch.cat(picks)

    def sample(self) -> dict[str, torch.Tensor]:
        """One batch per set: float32 in [-1, 1], (batch_size, C, H, W)."""
        batch = {}
        for name, images in self.sets.items():
            self.last_indices[name] = indices = self._indices(name)
            x = to_unit_range(images.index_select(0, indices), self.channels)
            if self.hflip:
                flip = torch.rand(x.shape[0], generator=self.generator, device=self.device) < 0.5
                x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
            batch[name] = x
        return batch

    def state_dict(self) -> dict[str, Any]:
        """Generator state and epoch positions (for exact resume)."""
        return {"generator": self.generator.get_state(), "order": dict(self._order),
                "position": dict(self._position)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.generator.set_state(state["generator"].cpu())
        self._order = {k: v.to(self.device) for k, v in state["order"].items()}
        self._position = {k: int(v) for k, v in state["position"].items()}


def ids_digest(images: ImageSet) -> str:
    """A short digest of `images`' ids (part of a run's resume identity)."""
    return hashlib.sha256("\n".join(map(str, images.ids)).encode()).hexdigest()[:16]


def hold_out(images: ImageSet, count: int, seed: int) -> tuple[ImageSet, ImageSet]:
    """(kept for training, held out) with at most a fifth of `images` held out, drawn by `seed`."""
    keep, held = split_holdout(len(images), min(count, len(images) // 5), seed)
    return images.subset(keep), images.subset(held)
