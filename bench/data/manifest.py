"""The split manifest: one row per image with `id, path, label, split`; its hash is the split's identity."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from bench.core.errors import DataError

SPLITS = ("train_normal", "train_unlabeled", "val", "test")
COLUMNS = ("id", "path", "label", "split")


def validate_manifest(manifest: pd.DataFrame, *, dataset: str) -> pd.DataFrame:
    """Check columns, labels and splits; returns the manifest with normalised dtypes."""
    missing = [c for c in COLUMNS if c not in manifest.columns]
    if missing:
        raise DataError(f"{dataset}: manifest lacks column(s) {', '.join(missing)}")
    bad_splits = sorted(set(manifest["split"]) - set(SPLITS))
    if bad_splits:
        raise DataError(f"{dataset}: unknown split(s) {bad_splits}; expected {', '.join(SPLITS)}")
    labels = manifest["label"].to_numpy()
    if not np.isin(labels, (0, 1)).all():
        raise DataError(f"{dataset}: labels must be 0 (normal) or 1 (abnormal)")
    if (manifest.loc[manifest["split"] == "train_normal", "label"] != 0).any():
        raise DataError(f"{dataset}: the known-normal training split holds abnormal images")
    duplicated = manifest["id"][manifest["id"].duplicated()].tolist()
    if duplicated:
        raise DataError(f"{dataset}: duplicate image ids in the manifest, e.g. {duplicated[:3]}")
    out = manifest.copy()
    out["id"] = out["id"].astype(str)
    out["path"] = out["path"].astype(str)
    out["label"] = out["label"].astype(np.int64)
    out["split"] = out["split"].astype(str)
    return out.reset_index(drop=True)


def manifest_hash(manifest: pd.DataFrame, *, dataset: str) -> str:
    """12 hex digits identifying the split: (data set, and the set of (id, label, split) rows). Neither paths nor
    row order matter, so the same split held at different places, or listed in another order, has one identity."""
    digest = hashlib.sha256(dataset.encode())
    rows = manifest[["id", "label", "split"]].astype(str).sort_values(["split", "id"])
    for row in rows.itertuples(index=False):
        digest.update(f"{row.id}\t{row.label}\t{row.split}\n".encode())
    return digest.hexdigest()[:12]


def row_order_hash(manifest: pd.DataFrame) -> str:
    """12 hex digits of the ids in row order: the image cache stores images in that order."""
    return hashlib.sha256("\n".join(manifest["id"].astype(str)).encode()).hexdigest()[:12]


def split_counts(manifest: pd.DataFrame) -> dict[str, dict[int, int]]:
    """{split: {label: count}} for every split present."""
    counts: dict[str, dict[int, int]] = {}
    for (split, label), n in manifest.groupby(["split", "label"]).size().items():
        counts.setdefault(str(split), {})[int(label)] = int(n)
    return counts


def draw(pool: pd.DataFrame, n: int, rng: np.random.Generator, *, what: str, allow_short: bool = False) -> pd.DataFrame:
    """`n` rows of `pool` drawn without replacement by `rng`; too few rows is an error naming the pool and the gap."""
    if n > len(pool):
        if not allow_short:
            raise DataError(f"{what}: the protocol asks for {n} images but the pool holds {len(pool)} "
                            f"({n - len(pool)} short); check the download is complete, or pass "
                            "--set data.allow_short=true to draw fewer")
        warnings.warn(f"{what}: drew {len(pool)} of the {n} images the protocol asks for", stacklevel=2)
        n = len(pool)
    order = rng.permutation(len(pool))[:n]
    return pool.iloc[np.sort(order)]


def draw_splits(pool: pd.DataFrame, wants: Mapping[str, int], rng: np.random.Generator, *, what: str,
                allow_short: bool = False) -> dict[str, pd.DataFrame]:
    """Disjoint draws of `wants[split]` rows each from one pool, in the order of `wants`.

    One seeded permutation is sliced in turn, so a split's rows do not change when a later split's size
    does (list the evaluation splits first). A pool smaller than the total is an error naming the pool, what
    each split asks and the gap; with `allow_short`, a warning, and every split shrinks in proportion (never
    padded).
    """
    asked = {split: int(n) for split, n in wants.items()}
    total = sum(asked.values())
    got = asked
    if total > len(pool):
        listed = ", ".join(f"{n} {split}" for split, n in asked.items() if n)
        if not allow_short:
            raise DataError(f"{what}: the protocol asks for {total} images ({listed}) but the pool holds "
                            f"{len(pool)} ({total - len(pool)} short); check the download is complete, "
                            "or pass --set data.allow_short=true to draw fewer")
        got = _shrink(asked, len(pool))
        drawn = ", ".join(f"{got[split]} of {n} {split}" for split, n in asked.items() if n)
        warnings.warn(f"{what}: the pool holds {len(pool)} of the {total} images the protocol asks for "
                      f"({total - len(pool)} short); drew {drawn}", stacklevel=2)
    order = rng.permutation(len(pool))
    out, start = {}, 0
    for split, n in got.items():
        out[split] = pool.iloc[np.sort(order[start : start + n])]
        start += n
    return out


def shuffle_within_splits(manifest: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Rows grouped by split in protocol order and in a seeded random order inside each split, so that where
    an unlabeled image sits (e.g. after all the normal ones) tells nothing about its label."""
    key = np.random.default_rng([seed, 1000]).permutation(len(manifest))
    rank = manifest["split"].map({split: i for i, split in enumerate(SPLITS)}).to_numpy()
    return manifest.iloc[np.lexsort((key, rank))].reset_index(drop=True)


def _shrink(asked: Mapping[str, int], available: int) -> dict[str, int]:
    """Counts proportional to `asked` that sum to `available` (largest remainders get the leftovers)."""
    total = sum(asked.values())
    exact = {split: n * available / total for split, n in asked.items()}
    counts = {split: int(value) for split, value in exact.items()}
    by_remainder = sorted(exact, key=lambda split: exact[split] - counts[split], reverse=True)
    for split in by_remainder[: available - sum(counts.values())]:
        counts[split] += 1
    return counts
