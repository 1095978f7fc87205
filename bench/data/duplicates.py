"""Leakage by content (issue 28): the same image in two splits under different names.

Splits fall into three groups, training (train_normal and train_unlabeled), validation and test; a duplicate
inside one group is not leakage. Rules, on the decoded images as cached (the data set's size and channels):
- **identical**: the same decoded pixels (blake2b of each cached image). A byte copy, a symlink or hard link,
  or the same pixels re-encoded losslessly. An error (exit 2) naming the pairs unless `data.allow_duplicates`.
- **near-duplicate**: not identical, but the 8x8 block means of the two images (grey levels 0-255, averaged over
  channels) differ by at most NEAR_RMS root-mean-square. A lossy re-encoding (JPEG) stays well within it
  (block means average the coding noise away); two different radiographs differ by far more. A warning.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.errors import DataError
from bench.core.files import atomic_write_text

NEAR_RMS = 1.0  # grey levels (0-255) between 8x8 block-mean thumbnails
THUMB = 8
MAX_LISTED = 10
GROUP = {"train_normal": "train", "train_unlabeled": "train", "val": "val", "test": "test"}
_CHUNK = 2048


def pixel_digests(images: np.ndarray) -> list[bytes]:
    """One blake2b digest (16 bytes) per image of (N, C, H, W) uint8."""
    return [hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).digest() for image in images]


def thumbnails(images: np.ndarray) -> np.ndarray:
    """(N, 64) float32: the 8x8 block means of each image, averaged over channels (the size must divide by 8;
    otherwise the nearest smaller multiple of 8 is used from the top-left)."""
    n, channels, height, width = images.shape
    bh, bw = max(1, height // THUMB), max(1, width // THUMB)
    out = np.empty((n, THUMB * THUMB), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        part = np.asarray(images[start : start + _CHUNK, :, : bh * THUMB, : bw * THUMB], dtype=np.float32)
        part = part.mean(axis=1).reshape(len(part), THUMB, bh, THUMB, bw).mean(axis=(2, 4))
        out[start : start + len(part)] = part.reshape(len(part), -1)
    return out


def _name(manifest: pd.DataFrame, index: int) -> str:
    row = manifest.iloc[index]
    return f"{row['split']}/{row['label']} {row['path']}"


def find_duplicates(manifest: pd.DataFrame, images: np.ndarray) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(identical pairs, near-duplicate pairs) of manifest row indices in different split groups."""
    groups = manifest["split"].map(GROUP).fillna(manifest["split"]).to_numpy()
    by_digest: dict[bytes, list[int]] = defaultdict(list)
    for index, digest in enumerate(pixel_digests(images)):
        by_digest[digest].append(index)
    identical = [(a, b) for members in by_digest.values() if len(members) > 1
                 for i, a in enumerate(members) for b in members[i + 1:] if groups[a] != groups[b]]
    twins = {frozenset(p) for p in identical}
    thumbs = thumbnails(images).astype(np.float64)
    norms = (thumbs**2).sum(axis=1)
    near = []
    for name in sorted(set(groups) - {"train"}):  # each held-out group against every other group
        queries, pool = np.flatnonzero(groups == name), np.flatnonzero(groups != name)
        for start in range(0, len(queries), _CHUNK):
            q = queries[start : start + _CHUNK]
            distance = norms[q][:, None] + norms[pool][None, :] - 2.0 * (thumbs[q] @ thumbs[pool].T)
            for i, j in np.argwhere(distance <= NEAR_RMS**2 * THUMB * THUMB + 1e-6):
                pair = frozenset((int(q[i]), int(pool[j])))
                if pair not in twins:
                    twins.add(pair)
                    near.append((min(pair), max(pair)))
    return sorted((min(a, b), max(a, b)) for a, b in identical), sorted(near)


def _listed(manifest: pd.DataFrame, pairs: list[tuple[int, int]]) -> str:
    lines = [f"{_name(manifest, a)} = {_name(manifest, b)}" for a, b in pairs[:MAX_LISTED]]
    more = [f"... and {len(pairs) - MAX_LISTED} more"] if len(pairs) > MAX_LISTED else []
    return "\n  ".join(lines + more)


def _found(manifest: pd.DataFrame, images: np.ndarray, memo: Path | None) -> tuple[list, list]:
    """find_duplicates, remembered in `memo` (a JSON file keyed by split and image content by the caller)."""
    if memo is not None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(memo.read_text())
            return [tuple(p) for p in data["identical"]], [tuple(p) for p in data["near"]]
    identical, near = find_duplicates(manifest, images)
    if memo is not None:
        with contextlib.suppress(OSError):
            atomic_write_text(memo, json.dumps({"identical": identical, "near": near}))
    return identical, near


def check_duplicates(manifest: pd.DataFrame, images: np.ndarray, *, dataset: str, allow: bool,
                     memo: Path | None = None) -> list[str]:
    """Raise a DataError naming the identical pairs across split groups (unless `allow`); return warning lines
    (near-duplicates, and identical pairs that were allowed)."""
    identical, near = _found(manifest, images, memo)
    notes = []
    if identical:
        what = (f"{dataset}: {len(identical)} image(s) have the same decoded pixels as an image of another split "
                f"(train, val, test):\n  {_listed(manifest, identical)}")
        if not allow:
            raise DataError(f"{what}\nRemove the copies from the label file, or pass "
                            "--set data.allow_duplicates=true to use the data as it is (leaked images then count).")
        notes.append(f"{what}\n(allowed by data.allow_duplicates=true)")
    if near:
        notes.append(f"{dataset}: {len(near)} near-duplicate pair(s) across splits (8x8 block means within "
                     f"{NEAR_RMS:g} grey level RMS; e.g. a JPEG re-encoding):\n  {_listed(manifest, near)}")
    return notes
