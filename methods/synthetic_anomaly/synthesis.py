"""The synthesis core: `patch_ex` of hmsch/natural-synthetic-anomalies (`self_sup_data/self_sup_tasks.py`) for
grayscale images, drawing from a `numpy.random.Generator` instead of NumPy's global state.

One call turns a destination image (and a source image) into a synthetic anomaly and its label map:
1. Object masks: |I - background| > threshold, then a 7 x 7 median blur (the official `skip_background`).
2. Up to `num_patches` patches: the first always, each further one with probability 1/2. Per patch:
   half-widths clip((offset + Gamma(shape, scale)) * dim, min, max) per axis (truncated to int); a centre drawn until
   the source patch is more than `min_object` object (at most 200 attempts, else the patch is skipped); with `resize`
   the patch is rescaled by clip(N(1, 0.5), 0.7, 1.3); with `shift` a destination centre is drawn until the source
   patch is object enough and its object overlaps the destination's by more than `min_overlap` (200 attempts);
   then the patch is blended: `swap` (hard paste), `uniform` (convex blend with the factor), `mixed_clone`
   (cv2.seamlessClone with MIXED_CLONE; patches of fewer than 50 mask pixels are skipped).
3. Label: pixels of the patches whose value changed by more than 1 (median blur 5) give the mask; `binary` is the
   mask, `continuous` the mask times the factor, `logistic-intensity` mask / (1 + exp(-k (d - x0))) with d the
   disk(5) median of |change|.
A blank (all-background) image therefore comes back unchanged with an all-zero label.
"""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
from skimage.filters import rank
from skimage.morphology import disk

from bench.methods.synthetic_anomaly.tasks import (
    CONTINUOUS_FACTOR,
    INTENSITY_DISK,
    LABEL_MEDIAN,
    LABEL_TOLERANCE,
    MAX_ATTEMPTS,
    MIN_POISSON_AREA,
    OBJECT_MEDIAN,
    Task,
)


@dataclasses.dataclass(frozen=True)
class PatchSettings:
    """The official constants of `train_chest_xray.py` as defaults (half-widths as fractions of the side)."""

    min_half_width: float = 0.03
    max_half_width: float = 0.4
    gamma_shape: float = 2.0
    gamma_scale: float = 0.03
    gamma_offset: float = 0.05
    num_patches: int = 3
    min_object: float = 0.7
    min_overlap: float = 0.7
    background: float = 0.0
    background_threshold: float = 20.0
    logistic_k: float = 0.5
    logistic_x0: float = 4.0
    resize_bounds: tuple[float, float] = (0.7, 1.3)

    def width_bounds(self, side: int) -> tuple[int, int]:
        """(min, max) half-width in pixels for an image side of `side` (rounded as the official code rounds)."""
        return int(round(self.min_half_width * side)), int(round(self.max_half_width * side))


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where one patch went: destination box (rows, cols, half-open) and its mask inside the box."""

    rows: tuple[int, int]
    cols: tuple[int, int]
    mask: np.ndarray  # uint8 (h, w), 0/1


def object_mask(image: np.ndarray, settings: PatchSettings) -> np.ndarray:
    """uint8 0/1 (H, W): pixels farther than the threshold from the background value, median-blurred (7 x 7)."""
    mask = (np.abs(image.astype(np.float64) - settings.background) > settings.background_threshold).astype(np.uint8)
    return cv2.medianBlur(mask, OBJECT_MEDIAN)


def half_widths(rng: np.random.Generator, shape: tuple[int, int], settings: PatchSettings) -> tuple[int, int]:
    """The gamma rule: int(clip((offset + Gamma(shape, scale)) * side, min, max)) per axis."""
    widths = []
    for side in shape:
        low, high = settings.width_bounds(side)
        draw = (settings.gamma_offset + rng.gamma(settings.gamma_shape, settings.gamma_scale)) * side
        widths.append(int(np.clip(draw, low, high)))
    return widths[0], widths[1]


def patch_ex(dest: np.ndarray, src: np.ndarray | None, task: Task, rng: np.random.Generator,
             settings: PatchSettings = PatchSettings()) -> tuple[np.ndarray, np.ndarray]:
    """(synthetic image uint8 (H, W), label float64 (H, W)) from grayscale uint8 `dest` and `src` (None or
    `task.same`: the destination is its own source)."""
    if dest.ndim != 2 or dest.dtype != np.uint8:
        raise ValueError(f"patch_ex expects a uint8 (H, W) image, got {dest.dtype} {dest.shape}")
    src = dest.copy() if task.same or src is None else src
    src_objects, dest_objects = object_mask(src, settings), object_mask(dest, settings)
    factor = rng.uniform(*CONTINUOUS_FACTOR) if task.label_mode == "continuous" else 1.0
    changed = np.zeros(dest.shape, dtype=np.uint8)
    result = dest.copy()
    for i in range(settings.num_patches):
        if i == 0 or rng.integers(2) > 0:
            result, placement = _one_patch(result, src, dest_objects, src_objects, task, factor, rng, settings)
            if placement is not None:
                (r0, r1), (c0, c1) = placement.rows, placement.cols
                changed[r0:r1, c0:c1] = placement.mask
    return result, label_map(dest, result, changed, task, factor, settings)


def label_map(dest: np.ndarray, result: np.ndarray, patches: np.ndarray, task: Task, factor: float,
              settings: PatchSettings) -> np.ndarray:
    """The label of `task` for the change dest -> result inside the patch mask `patches` (uint8 0/1)."""
    change = np.abs(patches * dest.astype(np.float64) - patches * result.astype(np.float64))
    changed = cv2.medianBlur((change > LABEL_TOLERANCE).astype(np.uint8), LABEL_MEDIAN)
    if task.label_mode == "binary":
        return changed.astype(np.float64)
    if task.label_mode == "continuous":
        return changed * factor
    if task.label_mode == "logistic-intensity":
        intensity = np.abs(changed * dest.astype(np.float64) - changed * result.astype(np.float64))
        intensity = disk_median_near(intensity, changed, INTENSITY_DISK)
        return changed / (1 + np.exp(-settings.logistic_k * (intensity - settings.logistic_x0)))
    raise ValueError(f"unknown label mode {task.label_mode!r}")


def disk_median_near(values: np.ndarray, where: np.ndarray, radius: int) -> np.ndarray:
    """skimage.filters.median(values, disk(radius)) (the official label's filter) at the pixels of `where`
    (elsewhere 0), computed on the box around them widened by `radius` (every disk around such a pixel lies in the
    box or meets the image border, as in the full image), in uint8: `values` are whole numbers 0-255 and the disk
    holds an odd count, so the median is one of them. Equal to the whole-image filter where used (tested)."""
    out = np.zeros(values.shape, dtype=np.float64)
    rows, cols = np.nonzero(where)
    if rows.size == 0:
        return out
    r0, r1 = max(rows.min() - radius, 0), min(rows.max() + radius + 1, values.shape[0])
    c0, c1 = max(cols.min() - radius, 0), min(cols.max() + radius + 1, values.shape[1])
    # The window padded by its edge values (scipy's 'nearest' mode, skimage's default for median) so that every disk
    # lies inside; there the histogram median of skimage.filters.rank equals the sorting median, and is faster.
    window = np.pad(values[r0:r1, c0:c1].astype(np.uint8), radius, mode="edge")
    out[r0:r1, c0:c1] = rank.median(window, disk(radius))[radius:-radius, radius:-radius]
    return out


def _one_patch(dest: np.ndarray, src: np.ndarray, dest_objects: np.ndarray, src_objects: np.ndarray, task: Task,
               factor: float, rng: np.random.Generator,
               settings: PatchSettings) -> tuple[np.ndarray, Placement | None]:
    """One patch blended into `dest` (official `_patch_ex`); (dest unchanged, None) when no place is found."""
    dims = dest.shape
    (min1, max1), (min2, max2) = settings.width_bounds(dims[0]), settings.width_bounds(dims[1])
    width1, width2 = half_widths(rng, dims, settings)
    for attempt in range(MAX_ATTEMPTS):
        centre1 = rng.integers(min1, dims[0] - min1)
        centre2 = rng.integers(min2, dims[1] - min2)
        r0, r1 = np.clip(centre1 - width1, 0, dims[0]), np.clip(centre1 + width1, 0, dims[0])
        c0, c1 = np.clip(centre2 - width2, 0, dims[1]), np.clip(centre2 + width2, 0, dims[1])
        mask = np.ones((r1 - r0, c1 - c0), dtype=np.uint8)
        found = np.sum(mask & src_objects[r0:r1, c0:c1]) / mask.size > settings.min_object
        if attempt == MAX_ATTEMPTS - 1:  # as the official loop: the 200th attempt gives up even if it fits
            return dest, None
        if found:
            break
    patch = src[r0:r1, c0:c1]
    patch_objects = src_objects[r0:r1, c0:c1]
    height, width = patch.shape
    if task.resize:
        scale = np.clip(rng.normal(1, 0.5), *settings.resize_bounds)
        new_height = np.clip(scale * height, min1, max1)
        new_width = int(np.clip(int(new_height / height * width), min2, max2))
        new_height = int(np.clip(int(new_width / width * height), min1, max1))
        patch = cv2.resize(patch, (new_width, new_height))
        mask = cv2.resize(mask, (new_width, new_height))
        patch_objects = cv2.resize(np.ascontiguousarray(patch_objects), (new_width, new_height))
        height, width = patch.shape
    if task.shift:
        for attempt in range(MAX_ATTEMPTS):
            centre1 = rng.integers(height // 2 + 1, dims[0] - height // 2 - 1)
            centre2 = rng.integers(width // 2 + 1, dims[1] - width // 2 - 1)
            r0, r1 = centre1 - height // 2, centre1 + (height + 1) // 2
            c0, c1 = centre2 - width // 2, centre2 + (width + 1) // 2
            here = dest_objects[r0:r1, c0:c1]
            overlap = np.sum(here & patch_objects & mask)
            found = (np.sum(patch_objects) / mask.size > settings.min_object
                     and overlap / max(np.sum(patch_objects), 1) > settings.min_overlap)
            if attempt == MAX_ATTEMPTS - 1:
                return dest, None
            if found:
                break
    here = dest_objects[r0:r1, c0:c1]
    mask = mask & (patch_objects | here)
    blended = _blend(dest, patch, mask, patch_objects, here, (r0, r1), (c0, c1), task, factor)
    if blended is None:
        return dest, None
    return blended, Placement((int(r0), int(r1)), (int(c0), int(c1)), mask)


def _blend(dest: np.ndarray, patch: np.ndarray, mask: np.ndarray, patch_objects: np.ndarray, here: np.ndarray,
           rows: tuple[int, int], cols: tuple[int, int], task: Task, factor: float) -> np.ndarray | None:
    (r0, r1), (c0, c1) = rows, cols
    out = dest.copy()
    if task.blend == "swap":
        out[r0:r1, c0:c1] = np.where(mask > 0, patch, out[r0:r1, c0:c1])
        return out
    if task.blend == "uniform":
        before = out[r0:r1, c0:c1].astype(np.float64)
        mixed = before - factor * mask * before + factor * mask * patch
        out[r0:r1, c0:c1] = np.floor(mixed).astype(np.uint8)
        return out
    # Poisson editing, as the official code calls it: the mask is scaled by ceil(255 factor) and widened by the
    # shared background (so the boundary runs through background), its border zeroed.
    clone_mask = np.uint8(np.ceil(factor * 255)) * (mask | ((1 - patch_objects) & (1 - here)))
    clone_mask[0], clone_mask[-1], clone_mask[:, 0], clone_mask[:, -1] = 0, 0, 0, 0
    if np.sum(clone_mask > 0) < MIN_POISSON_AREA:
        return None
    centre = (int(c1 - (c1 - c0) // 2), int(r0 + (r1 - r0) // 2))  # (x, y) for OpenCV
    return poisson_clone(patch, dest, clone_mask, centre)


def poisson_clone(patch: np.ndarray, dest: np.ndarray, mask: np.ndarray, centre: tuple[int, int]) -> np.ndarray | None:
    """cv2.seamlessClone(MIXED_CLONE) of a grayscale patch into a grayscale image, padded to 3 channels as OpenCV
    expects (the other two zero, as the official code pads); None where OpenCV refuses the mask. OpenCV writes into
    the mask it is given (measured with 4.12 and 5.1: a second call with the same array blends differently), so it
    gets a copy."""
    zeros_patch, zeros_dest = np.zeros_like(patch), np.zeros_like(dest)
    try:
        out = cv2.seamlessClone(np.dstack([patch, zeros_patch, zeros_patch]), np.dstack([dest, zeros_dest, zeros_dest]),
                                mask.copy(), centre, cv2.MIXED_CLONE)
    except cv2.error:
        return None
    return np.ascontiguousarray(out[..., 0])
