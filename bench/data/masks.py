"""Localisation ground truth: lesion boxes or mask files in each image's original pixels, rasterised into masks at
the cached image size through the same crop and resize as the images (bench.data.decode.crop_window), and kept
beside the image cache under the split's manifest hash.

Masks are made for the abnormal test images (the only ones localisation is scored on; normal images are all
negative by definition). A mask pixel is abnormal when its centre, mapped back into the original image, lies inside
a box: PIL's resize samples pixel centres the same way. A box too small to hold any pixel centre marks the pixel
holding its own centre, so no box vanishes at 64 px; a box wholly outside the kept window (cropped away) marks
nothing. With several readers, a pixel is abnormal where at least `min_readers` of the image's readers boxed it
(capped at the number of readers the image has).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.files import atomic_write
from bench.data.cache import file_stats
from bench.data.decode import crop_window, image_shape
from bench.data.pixels import load_pixels

Box = tuple[float, float, float, float]  # x_min, y_min, x_max, y_max in original pixels (continuous, half-open)
FORMAT_VERSION = 1  # bump when the rasterisation changes: older mask files are then made again


@dataclasses.dataclass(frozen=True)
class BoxReads:
    """Boxes in original pixels per image id: one tuple of boxes per reader (a reader who boxed nothing reads as
    an empty tuple), the fusion rule in words, and images left without ground truth, with the reason."""

    reads: Mapping[str, tuple[tuple[Box, ...], ...]]
    rule: str
    source: str
    min_readers: int = 1
    excluded: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class MaskFiles:
    """Binary mask images (non-zero = lesion) in the frame of each image: image id -> path relative to the root."""

    paths: Mapping[str, str]
    rule: str
    source: str


TruthSource = BoxReads | MaskFiles | str  # a str says why a data set has no ground truth


@dataclasses.dataclass(frozen=True, eq=False)
class GroundTruth:
    """Masks of the abnormal test images that have ground truth, or (`reason`) why there is none. `missing` names
    the abnormal test images left without a mask and why; they are left out of localisation, never scored as
    negatives."""

    ids: np.ndarray  # (M,) str
    masks: np.ndarray  # (M, H, W) bool
    rule: str = ""
    source: str = ""
    reason: str | None = None
    missing: Mapping[str, str] = dataclasses.field(default_factory=dict)
    truth_id: str = ""

    @classmethod
    def absent(cls, reason: str) -> GroundTruth:
        return cls(np.zeros(0, dtype=str), np.zeros((0, 0, 0), dtype=bool), reason=reason)

    @property
    def available(self) -> bool:
        return self.reason is None

    def has_mask(self, ids: Sequence[str]) -> np.ndarray:
        """(n,) bool: which of `ids` have a mask (without building the masks)."""
        known = set(self.ids.tolist())
        return np.array([str(i) in known for i in ids], dtype=bool)

    def lookup(self, ids: Sequence[str]) -> tuple[np.ndarray | None, np.ndarray]:
        """(masks (n, H, W) bool, all False where an image has none; has_mask (n,) bool) for `ids`."""
        position = {image_id: index for index, image_id in enumerate(self.ids.tolist())}
        found = self.has_mask(ids)
        if not self.available:
            return None, found
        out = np.zeros((len(ids), *self.masks.shape[1:]), dtype=bool)
        for row, image_id in enumerate(ids):
            if found[row]:
                out[row] = self.masks[position[str(image_id)]]
        return out, found


def rasterise(boxes: Sequence[Box], window: tuple[int, int, int, int], size: int) -> np.ndarray:
    """(size, size) bool: the pixels whose centres fall in any box, after cropping the original image to `window`
    (top, left, rows, columns) and resizing it to size x size."""
    top, left, rows, columns = window
    step_y, step_x = rows / size, columns / size  # original pixels per mask pixel
    centre_y = top + (np.arange(size) + 0.5) * step_y
    centre_x = left + (np.arange(size) + 0.5) * step_x
    mask = np.zeros((size, size), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        in_y = (centre_y >= y0) & (centre_y < y1)
        in_x = (centre_x >= x0) & (centre_x < x1)
        if in_y.any() and in_x.any():
            mask |= in_y[:, None] & in_x[None, :]
            continue
        # No pixel centre inside: mark the pixel holding the centre of the box's visible part, if any is visible.
        low_y, high_y = max(y0, top), min(y1, top + rows)
        low_x, high_x = max(x0, left), min(x1, left + columns)
        if low_y < high_y and low_x < high_x:
            row = min(size - 1, int(((low_y + high_y) / 2 - top) / step_y))
            column = min(size - 1, int(((low_x + high_x) / 2 - left) / step_x))
            mask[row, column] = True
    return mask


def fuse_reads(reads: Sequence[Sequence[Box]], window: tuple[int, int, int, int], size: int,
               min_readers: int) -> np.ndarray:
    """(size, size) bool: pixels boxed by at least min(min_readers, number of readers) of the readers."""
    if not reads:
        return np.zeros((size, size), dtype=bool)
    votes = np.zeros((size, size), dtype=np.int32)
    for boxes in reads:
        votes += rasterise(boxes, window, size)
    return votes >= min(min_readers, len(reads))


def _paths(manifest: pd.DataFrame, root: Path) -> list[Path]:
    return [Path(p) if Path(p).is_absolute() else root / p for p in manifest["path"]]


def _truth_id(source: BoxReads | MaskFiles, rows: pd.DataFrame, stats: np.ndarray, geometry: dict) -> str:
    """12 hex digits of everything a mask depends on: the boxes or mask files, the fusion rule, the image files
    (their sizes set the box frame) and the crop/resize."""
    if isinstance(source, BoxReads):
        described = {"reads": {i: source.reads.get(i) for i in rows["id"]}, "min": source.min_readers,
                     "excluded": {i: source.excluded[i] for i in rows["id"] if i in source.excluded}}
    else:
        described = {"paths": {i: source.paths.get(i) for i in rows["id"]}}
    body = json.dumps({"version": FORMAT_VERSION, "rule": source.rule, "geometry": geometry, **described,
                       "stats": stats.tolist()}, sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:12]


def build_ground_truth(source: TruthSource, manifest: pd.DataFrame, root: Path, target: Path, split_id: str, *,
                       size: int, crop_top: float = 0.0, square: str = "crop") -> GroundTruth:
    """The masks of the abnormal test images of `manifest`, made once and kept in `target` (the image cache
    folder) as localisation-<split_id>.npz; made again when the boxes, the files or the geometry change."""
    if isinstance(source, str):
        return GroundTruth.absent(source)
    rows = manifest[(manifest["split"] == "test") & (manifest["label"] == 1)].reset_index(drop=True)
    image_paths = _paths(rows, root)
    stats = file_stats(image_paths)
    if isinstance(source, MaskFiles):
        stats = np.concatenate([stats, file_stats([root / source.paths.get(i, "") for i in rows["id"]])], axis=1)
    geometry = {"size": size, "crop_top": crop_top, "square": square}
    truth_id = _truth_id(source, rows, stats, geometry)
    path = target / f"localisation-{split_id}.npz"
    cached = _read(path, truth_id)
    if cached is not None:
        return cached
    masks, missing = _make_masks(source, rows, image_paths, root, size=size, crop_top=crop_top, square=square)
    kept = [i for i in rows["id"] if i in masks]
    truth = GroundTruth(np.array(kept, dtype=str),
                        np.stack([masks[i] for i in kept]) if kept else np.zeros((0, size, size), dtype=bool),
                        source.rule, source.source, _no_mask_reason(missing) if not kept else None, missing,
                        truth_id)
    _write(path, truth)
    return truth


def _make_masks(source: BoxReads | MaskFiles, rows: pd.DataFrame, image_paths: list[Path], root: Path, *,
                size: int, crop_top: float, square: str) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """{id: mask} of the images that have a non-empty mask, and {id: why not} of the others."""
    masks, missing = {}, {}
    for image_id, image_path in zip(rows["id"], image_paths, strict=True):
        if isinstance(source, MaskFiles):
            if image_id not in source.paths:
                missing[image_id] = "no mask file listed"
                continue
            mask = load_pixels(root / source.paths[image_id], size, 1, crop_top=crop_top, square=square)[0] > 127
        elif image_id in source.excluded:
            missing[image_id] = source.excluded[image_id]
            continue
        elif image_id not in source.reads:
            missing[image_id] = "no boxes listed"
            continue
        else:
            window = crop_window(*image_shape(image_path), crop_top=crop_top, square=square)
            mask = fuse_reads(source.reads[image_id], window, size, source.min_readers)
        if mask.any():
            masks[image_id] = mask
        else:
            missing[image_id] = ("no pixel boxed under the fusion rule, or every box cropped away"
                                 if isinstance(source, BoxReads) else "empty mask after crop and resize")
    return masks, missing


def _no_mask_reason(missing: Mapping[str, str]) -> str:
    if not missing:
        return "no localisation ground truth: the test split has no abnormal images"
    reasons = pd.Series(list(missing.values())).value_counts()
    listed = "; ".join(f"{n} {reason}" for reason, n in reasons.items())
    return f"no localisation ground truth: none of the {len(missing)} abnormal test images has a mask ({listed})"


def _write(path: Path, truth: GroundTruth) -> None:
    meta = {"rule": truth.rule, "source": truth.source, "reason": truth.reason, "truth_id": truth.truth_id,
            "missing": dict(truth.missing)}

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            np.savez_compressed(handle, ids=truth.ids, masks=truth.masks, meta=np.array(json.dumps(meta)))

    atomic_write(path, write)


def _read(path: Path, truth_id: str) -> GroundTruth | None:
    """The ground truth kept at `path` when it was made from the same inputs, else None."""
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("truth_id") != truth_id:
                return None
            return GroundTruth(data["ids"].astype(str), data["masks"].astype(bool), meta["rule"], meta["source"],
                               meta["reason"], meta["missing"], truth_id)
    except (OSError, ValueError, KeyError):
        return None
