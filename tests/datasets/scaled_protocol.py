"""The RSNA / VinDr-CXR / LAG / Med-AD protocols scaled down to tiny trees, and adapters built on them (helpers
for the data-set tests; the fixtures are in conftest.py)."""

from __future__ import annotations

from pathlib import Path

from bench.core import registry
from tests.datasets.fake_trees import write_lag_tree, write_medad_tree, write_rsna_tree, write_vindr_tree

# The Med-AD protocol scaled down: 4 known normals, a pool of 3 + 3, 5 unlabeled (floor(5 * 0.6) = 3 abnormal),
# 2 + 2 test images, 32 px. A tree with 9 normal and 5 abnormal images holds exactly that.
SCALED = {"n_normal": "4", "pool_normal": "3", "pool_abnormal": "3", "n_test": "2", "unlabeled_size": "5",
          "size": "32"}
NORMAL, ABNORMAL = 9, 5
MEDAD_COUNTS = {"train/0": 4, "train/unlabeled/0": 3, "train/unlabeled/1": 3, "test/0": 2, "test/1": 2}
OFFICIAL = ("rsna", "vindr", "lag")
OUR_DATASETS = (*OFFICIAL, "medad")


def write_official(name: str, root: Path, normal: int = NORMAL, abnormal: int = ABNORMAL) -> dict[str, int]:
    """The official layout of `name` with `normal` + `abnormal` usable images; returns {id: label}."""
    if name == "rsna":
        return write_rsna_tree(root, normal=normal, opacity=abnormal)
    if name == "vindr":
        return write_vindr_tree(root, normal=normal, abnormal=abnormal)
    return write_lag_tree(root, negative=normal, glaucoma=abnormal)


def write_medad(root: Path, counts: dict[str, int] | None = None, *, rgb: bool = False) -> dict[str, int]:
    return write_medad_tree(root, counts or MEDAD_COUNTS, rgb=rgb)


def make(name: str, root: Path | None, **changes: object):
    """The adapter `name` at `root` with the scaled protocol and `changes` (None drops a scaled key)."""
    cls = registry.get_dataset(name)
    values = {**SCALED, **{k: str(v) for k, v in changes.items() if v is not None}}
    values = {k: v for k, v in values.items() if changes.get(k, "") is not None}
    return cls(root, cls.make_options(values))


def data_settings(**changes: object) -> list[str]:
    """The scaled protocol as `--set data.key=value` arguments."""
    values = {**SCALED, **{k: str(v) for k, v in changes.items()}}
    return [arg for key, value in values.items() for arg in ("--set", f"data.{key}={value}")]
