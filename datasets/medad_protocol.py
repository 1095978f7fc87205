"""The split protocol shared by RSNA, VinDr-CXR, LAG and any Med-AD tree (DDAD's "Med-AD" benchmark, used
by SAGAN): a known-normal training set, an unlabeled set drawn from a mixed pool at a given size and anomaly
ratio, and a balanced test set. No validation split.

Two sources give the same protocol:
- the official download (`format=official`): every split is drawn by `split_seed`, per class as one
  permutation sliced in turn: test, known normals (normal class), then the unlabeled pool from what is left;
- the official download with `split=medad`: DDAD's published lists (medad_split.py) are the split, matched to
  the download by image id, exactly as for DDAD's own Med-AD tree of that data set (so the split id is the same);
- a Med-AD tree (`format=medad`): the lists of data.json are the split; the first n of each list are used.
The unlabeled set takes `unlabeled_size` images, `floor(unlabeled_size * anomaly_ratio)` of them abnormal,
from the pools: the first ones (`unlabeled_pick=first`, what DDAD's code does) or drawn by `split_seed`
(`unlabeled_pick=seeded`).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from bench.core.config import Fraction, NonNegativeInt, PositiveInt
from bench.core.errors import DataError
from bench.data.adapter import DataOptions, DatasetAdapter
from bench.data.manifest import draw, draw_splits, shuffle_within_splits
from bench.data.masks import TruthSource
from bench.datasets import medad_format, medad_split

FORMATS = ("auto", "official", "medad")


@dataclasses.dataclass(frozen=True)
class MedADOptions(DataOptions):
    """Protocol sizes (None = every image the source has for that part), by `--set data.<key>=<value>`."""

    n_normal: PositiveInt | None = None  # known-normal training images
    pool_normal: NonNegativeInt | None = None  # normal images in the unlabeled pool
    pool_abnormal: NonNegativeInt | None = None  # abnormal images in the unlabeled pool
    unlabeled_size: NonNegativeInt | None = None  # images drawn from the pool into the unlabeled training set
    anomaly_ratio: Fraction = 0.6  # abnormal fraction of the unlabeled set (used when unlabeled_size is set)
    n_test: PositiveInt | None = None  # test images per class
    unlabeled_pick: Literal["first", "seeded"] = "first"
    format: Literal["auto", "official", "medad"] = "auto"
    # official downloads: `seeded` draws every split by split_seed; `medad` takes DDAD's published lists
    split: Literal["seeded", "medad"] = "seeded"
    # `bench`: bench's DICOM display path; `ddad`: DDAD's (preprocess_cxr.py to 512 px, then its loader's resize)
    preprocess: Literal["bench", "ddad"] = "bench"

    def __post_init__(self) -> None:
        for key in ("n_normal", "pool_normal", "pool_abnormal", "unlabeled_size", "n_test"):
            value = getattr(self, key)
            if value is not None and value < 0:
                raise DataError(f"data.{key} must be 0 or more, got {value}")
        if not 0.0 <= self.anomaly_ratio <= 1.0:
            raise DataError(f"data.anomaly_ratio must lie in [0, 1], got {self.anomaly_ratio}")


def unlabeled_split(size: int, ratio: float) -> tuple[int, int]:
    """(normal, abnormal) counts of an unlabeled set: floor(size * ratio) abnormal, as DDAD's code does."""
    abnormal = math.floor(size * ratio + 1e-9)
    return size - abnormal, abnormal


def first(pool: pd.DataFrame, n: int | None, *, what: str, allow_short: bool) -> pd.DataFrame:
    """The first `n` rows of `pool` (all when None); too few is an error naming the pool and the gap."""
    if n is None:
        return pool
    if n > len(pool):
        gap = n - len(pool)
        message = f"{what}: the protocol asks for {n} images but the source lists {len(pool)} ({gap} short)"
        if not allow_short:
            raise DataError(f"{message}; check the download is complete, or pass --set data.allow_short=true")
        warnings.warn(message, stacklevel=2)
    return pool.iloc[:n]


class MedADProtocolDataset(DatasetAdapter):
    """A data set with the Med-AD protocol, read from its official download or from a Med-AD tree.

    Subclasses describe the official layout: `official_problems` and `official_images`."""

    options_class = MedADOptions
    official_marks: tuple[str, ...] = ()  # paths whose presence says the root holds the official download
    has_medad_lists = False  # DDAD published this data set's lists (medad_split.SHIPPED): data.split=medad works

    def __init__(self, root: Path | str | None = None, options: MedADOptions | None = None) -> None:
        super().__init__(root, options)
        if self.options.preprocess == "ddad":
            self.square = "ddad"  # DDAD's pixel path (bench.data.decode.load_image), a cache of its own

    # -- the official download (subclasses) --
    def official_problems(self, root: Path) -> list[str]:
        """Every missing or malformed file of the official layout."""
        return [f"{self.name} has no official layout; give a Med-AD tree"]

    def official_images(self, root: Path) -> pd.DataFrame:
        """Columns id, path (relative to the root), label: every image the protocol may use."""
        raise DataError(f"{self.name} has no official layout; give a Med-AD tree")

    def official_truth(self, root: Path, images: pd.DataFrame) -> TruthSource:
        """The official download's lesion boxes of `images` (id, path, label), or why it has none."""
        return super().localisation_truth(images)

    def localisation_truth(self, manifest: pd.DataFrame) -> TruthSource:
        if self.tree_format() == "medad":
            return "no localisation ground truth: a Med-AD tree (data.json) carries no lesion boxes"
        abnormal_test = manifest[(manifest["split"] == "test") & (manifest["label"] == 1)]
        return self.official_truth(self.require_root(), abnormal_test)

    # -- which tree the root holds --
    def tree_format(self) -> str:
        """`official` or `medad`: the `format` option, or (auto) `medad` when the root holds a data.json."""
        if self.options.format != "auto":
            return self.options.format
        return "medad" if self.root is not None and medad_format.looks_like_medad(self.root) else "official"

    def problems(self) -> list[str]:
        root = self.require_root()
        if self.tree_format() == "medad":
            return medad_format.medad_problems(root)
        problems = self.official_problems(root)
        if self.options.split == "medad" and not self.has_medad_lists:
            problems.append(f"data.split=medad: DDAD published no split lists for {self.name} (it has them for "
                            f"{', '.join(medad_split.SHIPPED)})")
        elif self.options.split == "medad" and not [p for p in problems if not _names_missing_images(p)]:
            # the label files read: DDAD's lists name every image they need that is absent, by list
            problems = medad_split.listed_problems(self.name, root, self.official_images(root))
        marked = any((root / mark).exists() for mark in self.official_marks)
        if problems and self.options.format == "auto" and not marked:
            hint = " (images/ is there but data.json is not)" if (root / medad_format.IMAGES).is_dir() else ""
            problems.append(f"or, for a Med-AD tree: missing {root / medad_format.DATA_JSON}{hint}")
        return problems

    # -- the protocol --
    def unlabeled_counts(self, pool_normal: int, pool_abnormal: int) -> tuple[int, int]:
        """(normal, abnormal) images of the unlabeled set; the whole pool when unlabeled_size is None."""
        if self.options.unlabeled_size is None:
            return pool_normal, pool_abnormal
        return unlabeled_split(self.options.unlabeled_size, self.options.anomaly_ratio)

    def protocol(self) -> dict[str, dict[int, int]]:
        o, listed = self.options, self._listed_counts()

        def size(value: int | None, key: str) -> int | None:
            return value if value is not None else listed.get(key)

        n_normal, test_normal, test_abnormal = size(o.n_normal, "train/0"), size(o.n_test, "test/0"), \
            size(o.n_test, "test/1")
        pool_normal, pool_abnormal = size(o.pool_normal, "pool/0"), size(o.pool_abnormal, "pool/1")
        expected: dict[str, dict[int, int]] = {}
        if n_normal is not None:
            expected["train_normal"] = {0: n_normal}
        if o.unlabeled_size is not None or (pool_normal is not None and pool_abnormal is not None):
            unl_normal, unl_abnormal = self.unlabeled_counts(pool_normal or 0, pool_abnormal or 0)
            expected["train_unlabeled"] = {0: unl_normal, 1: unl_abnormal}
        test = {label: n for label, n in ((0, test_normal), (1, test_abnormal)) if n is not None}
        if test:
            expected["test"] = test
        return expected

    def _listed_counts(self) -> dict[str, int]:
        """List lengths of a Med-AD tree's data.json (empty for the official layout or an unreadable tree)."""
        if self.root is None or self.tree_format() != "medad":
            return {}
        try:
            lists = medad_format.read_lists(self.root)
        except DataError:
            return {}
        return {"train/0": len(lists["train/0"]), "pool/0": len(lists["train/unlabeled/0"]),
                "pool/1": len(lists["train/unlabeled/1"]), "test/0": len(lists["test/0"]),
                "test/1": len(lists["test/1"])}

    def build_manifest(self) -> pd.DataFrame:
        root = self.require_root()
        if self.tree_format() == "medad":
            parts = self._listed_parts(medad_format.medad_pools(root))
        elif self.options.split == "medad":
            parts = self._listed_parts(medad_split.listed_pools(self.name, self.official_images(root)))
        else:
            parts = self._official_parts(root)
        pool_normal, pool_abnormal = parts.pop("pool/0"), parts.pop("pool/1")
        unl_normal, unl_abnormal = self.unlabeled_counts(len(pool_normal), len(pool_abnormal))
        parts["unlabeled/0"] = self._pick(pool_normal, unl_normal, 0)
        parts["unlabeled/1"] = self._pick(pool_abnormal, unl_abnormal, 1)
        split_of = {"train/0": "train_normal", "unlabeled/0": "train_unlabeled",
                    "unlabeled/1": "train_unlabeled", "test/0": "test", "test/1": "test"}
        frames = [parts[key].assign(split=split) for key, split in split_of.items()]
        manifest = pd.concat(frames, ignore_index=True)[["id", "path", "label", "split"]]
        return shuffle_within_splits(manifest, self.options.split_seed)

    def _what(self, part: str) -> str:
        lists = ", DDAD's lists" if self.tree_format() == "official" and self.options.split == "medad" else ""
        return f"{self.name} ({self.tree_format()} format{lists}) {part}"

    def _listed_parts(self, pools: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        """The first n of each Med-AD list (`pools`: a data.json's lists, or DDAD's matched to a download)."""
        o = self.options
        short = o.allow_short
        return {
            "train/0": first(pools["train/0"], o.n_normal, what=self._what("train/0"), allow_short=short),
            "test/0": first(pools["test/0"], o.n_test, what=self._what("test/0"), allow_short=short),
            "test/1": first(pools["test/1"], o.n_test, what=self._what("test/1"), allow_short=short),
            "pool/0": first(pools["train/unlabeled/0"], o.pool_normal, what=self._what("train/unlabeled/0"),
                            allow_short=short),
            "pool/1": first(pools["train/unlabeled/1"], o.pool_abnormal, what=self._what("train/unlabeled/1"),
                            allow_short=short),
        }

    def _official_parts(self, root: Path) -> dict[str, pd.DataFrame]:
        """Each class drawn by split_seed as one permutation sliced in turn (test first, so changing a
        training size never changes the test set); None takes what is left."""
        o = self.options
        images = self.official_images(root).sort_values("id", kind="stable").reset_index(drop=True)
        rng = np.random.default_rng(o.split_seed)
        parts: dict[str, pd.DataFrame] = {}
        for label, wants in ((0, {"test/0": o.n_test, "train/0": o.n_normal, "pool/0": o.pool_normal}),
                             (1, {"test/1": o.n_test, "pool/1": o.pool_abnormal})):
            pool = images[images["label"] == label]
            fixed = sum(n for n in wants.values() if n is not None)
            sizes = {key: max(0, len(pool) - fixed) if n is None else n for key, n in wants.items()}
            kind = ("normal", "abnormal")[label]
            parts.update(draw_splits(pool, sizes, rng, what=self._what(f"{kind} images"),
                                     allow_short=o.allow_short))
        return parts

    def _pick(self, pool: pd.DataFrame, n: int, label: int) -> pd.DataFrame:
        """The unlabeled images of one class: the first `n` of the pool, or `n` drawn by split_seed."""
        what = self._what(f"unlabeled {('normal', 'abnormal')[label]} images (from the unlabeled pool)")
        if self.options.unlabeled_pick == "first":
            return first(pool, n, what=what, allow_short=self.options.allow_short)
        rng = np.random.default_rng([self.options.split_seed, 1, label])
        return draw(pool, n, rng, what=what, allow_short=self.options.allow_short)


def _names_missing_images(problem: str) -> bool:
    """A problem line of an official layout about absent image files (medad_format.named's lines)."""
    return problem.startswith("missing image ") or (problem.startswith("... and ")
                                                     and " more missing images" in problem)


def read_label_csv(path: Path, columns: tuple[str, ...], problems: list[str]) -> pd.DataFrame | None:
    """The CSV as strings, or None with a problem added when it is missing, unreadable or lacks `columns`."""
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        problems.append(f"cannot read {path}: {exc}")
        return None
    lacking = [c for c in columns if c not in table.columns]
    if lacking:
        present = ", ".join(map(str, table.columns))
        problems.append(f"{path} lacks column(s) {', '.join(lacking)} (it has {present})")
        return None
    return table
