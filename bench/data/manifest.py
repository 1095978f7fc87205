"""The split manifest: one row per image with `id, path, label, split`; its hash is the split's identity."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from bench.errors import DataError

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
    """12 hex digits identifying (data set, ids, labels, splits) in order; paths do not matter, so the same split
    held at different places on different machines has the same identity."""
    digest = hashlib.sha256(dataset.encode())
    for row in manifest[["id", "label", "split"]].itertuples(index=False):
        digest.update(f"{row.id}\t{row.label}\t{row.split}\n".encode())
    return digest.hexdigest()[:12]


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
                            f"({n - len(pool)} short); check the download is complete, or pass --allow-short")
        import warnings

        warnings.warn(f"{what}: drew {len(pool)} of the {n} images the protocol asks for", stacklevel=2)
        n = len(pool)
    order = rng.permutation(len(pool))[:n]
    return pool.iloc[np.sort(order)]
