"""The data-set adapter contract: where the data comes from, how to validate it, and the split protocol."""

from __future__ import annotations

import dataclasses
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from bench.core.config import ImageSize, NonNegativeInt, apply_overrides, config_to_dict
from bench.core.errors import DataError
from bench.core.images import ImageSet
from bench.core.progress import Progress
from bench.core.settings import data_root_from_config
from bench.data.cache import build_image_cache, cache_dir
from bench.data.decode import BIT_DEPTH_RULE, bit_depth
from bench.data.duplicates import check_duplicates
from bench.data.manifest import SPLITS, manifest_hash, row_order_hash, split_counts, validate_manifest
from bench.data.masks import GroundTruth, TruthSource, build_ground_truth
from bench.data.pixels import load_pixels

HELD_OUT_NORMAL_FRACTION = 0.1  # of train_normal, for normal-quantile thresholds when there is no val split
HELD_OUT_STREAM = 7919  # offset of the held-out draw's seed from the split seed (any fixed number; kept for old runs)


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """Options every data set takes (`--set data.key=value`); adapters extend this with their own."""

    split_seed: NonNegativeInt = 0  # the split is drawn once per split_seed; every training seed shares it
    size: ImageSize | None = None  # image size; None = the protocol's
    allow_short: bool = False  # draw fewer images than the protocol asks (with a warning) instead of failing
    allow_outside_root: bool = False  # accept label-file entries that point outside the data folder
    allow_duplicates: bool = False  # accept identical images in two splits (bench.data.duplicates)


@dataclasses.dataclass
class PreparedData:
    """A decoded, cached data set: the manifest, its identity and the images of each split."""

    dataset: str
    manifest: pd.DataFrame
    split_id: str
    size: int
    channels: int
    images: np.ndarray  # (N, C, H, W) uint8 memmap in manifest order
    options: dict[str, Any]
    images_id: str = ""  # hash of the decoded images (see bench.data.cache.content_hash)
    root: str | None = None
    decoded: int = 0  # images decoded by this preparation (0: every one came from the cache)
    redecoded: int = 0  # of those, images whose file changed since they were cached
    localisation: GroundTruth | None = None  # masks of the abnormal test images, or why there are none

    def split(self, name: str) -> ImageSet:
        """The images of one split, with their labels and ids (empty split -> empty set)."""
        index = np.flatnonzero(self.manifest["split"].to_numpy() == name)
        return ImageSet(
            np.ascontiguousarray(self.images[index]),
            self.manifest["label"].to_numpy()[index],
            self.manifest["id"].to_numpy()[index].astype(str),
        )

    def counts(self) -> dict[str, dict[int, int]]:
        return split_counts(self.manifest)

    def held_out_normals(self, fraction: float = HELD_OUT_NORMAL_FRACTION) -> np.ndarray:
        """Indices (into train_normal) held out for normal-quantile thresholds where there is no labelled
        validation split: drawn by the split seed on a stream of their own, so they are the same for every
        training seed and method."""
        n = int((self.manifest["split"] == "train_normal").sum())
        n_held = max(1, int(round(n * fraction)))
        rng = np.random.default_rng(int(self.options.get("split_seed", 0)) + HELD_OUT_STREAM)
        return np.sort(rng.permutation(n)[:n_held])


class DatasetAdapter(ABC):
    """One data set: subclasses describe the source and layout, list problems, and build the manifest."""

    name: ClassVar[str]
    display_name: ClassVar[str] = ""  # as tables print it, e.g. "VinDr-CXR"; not inherited (unset: the name)
    summary: ClassVar[str] = ""
    source: ClassVar[str] = ""  # where to download it, shown in errors
    layout: ClassVar[str] = ""  # the expected folder layout, shown in errors
    image_size: ClassVar[int] = 64
    channels: ClassVar[int] = 1
    crop_top: ClassVar[float] = 0.0
    square: ClassVar[str] = "crop"  # how non-square images become square: "crop" (centre) or "squash" (resize)
    options_class: ClassVar[type] = DataOptions

    def __init__(self, root: Path | str | None = None, options: Any | None = None) -> None:
        self.options = options if options is not None else self.options_class()
        self.root = self.resolve_root(root)

    @classmethod
    def make_options(cls, overrides: Mapping[str, Any] | None = None) -> Any:
        """Default options with `--set data.key=value` overrides applied (unknown keys are an error)."""
        return apply_overrides(cls.options_class(), overrides or {}, owner=f"data set {cls.name} (data.*)")

    @classmethod
    def env_var(cls) -> str:
        return f"BENCH_DATA_{cls.name.upper()}"

    def resolve_root(self, root: Path | str | None) -> Path | None:
        """`--root`, else `$BENCH_DATA_<NAME>`, else the `[data]` table of the config file, else None."""
        if root is not None:
            return Path(root).expanduser()
        if os.environ.get(self.env_var()):
            return Path(os.environ[self.env_var()]).expanduser()
        return data_root_from_config(self.name)

    @property
    def size(self) -> int:
        return self.options.size or self.image_size

    def require_root(self) -> Path:
        """The root folder, or a DataError saying how to provide and where to get the data."""
        if self.root is None:
            raise DataError(f"no folder given for data set {self.name!r}: pass --root PATH, or set "
                            f"{self.env_var()}=PATH.\n{self.where_to_get()}")
        if self.root.exists() and not self.root.is_dir():
            raise DataError(f"data folder {self.root} for {self.name!r} is a file, not a folder: pass the folder "
                            f"that holds the data set.\n{self.where_to_get()}")
        if not self.root.is_dir():
            raise DataError(f"data folder {self.root} for {self.name!r} does not exist.\n{self.where_to_get()}")
        return self.root

    def where_to_get(self) -> str:
        parts = []
        if self.source:
            parts.append(f"Get it from: {self.source}")
        if self.layout:
            parts.append(f"Expected layout under the root:\n{self.layout}")
        return "\n".join(parts)

    def verify(self) -> None:
        """Raise one DataError naming every problem with the folder, the layout and the source."""
        self.require_root()
        problems = self.problems()
        if problems:
            listed = "\n  ".join(problems)
            raise DataError(f"{self.name} at {self.root} has {len(problems)} problem(s):\n  {listed}\n"
                            f"{self.where_to_get()}")

    @abstractmethod
    def problems(self) -> list[str]:
        """Every missing file or folder and every malformed label file, one line each (empty = fine)."""

    @abstractmethod
    def build_manifest(self) -> pd.DataFrame:
        """Columns id, path (absolute or relative to the root), label (0/1), split; drawn by options.split_seed."""

    def protocol(self) -> dict[str, dict[int, int]]:
        """Expected {split: {label: count}} for this protocol (empty where the protocol states none)."""
        return {}

    def manifest(self) -> pd.DataFrame:
        """The validated manifest (the folder is verified first); entries that point outside the data folder are
        an error unless `data.allow_outside_root` is set."""
        self.verify()
        manifest = validate_manifest(self.build_manifest(), dataset=self.name)
        test_labels = set(manifest.loc[manifest["split"] == "test", "label"].tolist())
        if test_labels != {0, 1}:  # AUC needs both; found here, before anything is decoded or trained
            lacking = " and ".join(name for label, name in ((0, "normal"), (1, "abnormal")) if label not in test_labels)
            raise DataError(f"{self.name}: the test split has no {lacking} images; every metric needs both "
                            "(check the label file's test lists)")
        if not self.options.allow_outside_root:
            check_inside_root(manifest, self.require_root(), dataset=self.name)
        return manifest

    def prepare(self, progress: Progress | None = None, *, rehash: bool = False) -> PreparedData:
        """Verify, build the manifest, decode once into the cache, and return the prepared data. `rehash`: also
        decode again the files whose bytes changed (bench.data.cache.build_image_cache)."""
        manifest = self.manifest()
        split_id = manifest_hash(manifest, dataset=self.name)
        root = self.require_root()
        target = cache_dir(self.name, row_order_hash(manifest), self.size, self.channels, self.crop_top, root,
                           self.square)
        cached = build_image_cache(manifest, root, target, size=self.size, channels=self.channels,
                                   crop_top=self.crop_top, square=self.square, progress=progress, rehash=rehash)
        memo = target / f"duplicates-{split_id[:12]}-{cached.images_id}.json"
        for note in check_duplicates(manifest, cached.images, dataset=self.name,
                                     allow=bool(getattr(self.options, "allow_duplicates", False)), memo=memo):
            print(f"warning: {note}", file=sys.stderr)
        truth = build_ground_truth(self.localisation_truth(manifest), manifest, root, target, split_id,
                                   size=self.size, crop_top=self.crop_top, square=self.square)
        options = {**config_to_dict(self.options), "bit_depth_rule": BIT_DEPTH_RULE}  # recorded in run.json
        return PreparedData(self.name, manifest, split_id, self.size, self.channels, cached.images,
                            options, cached.images_id, str(root.resolve()), cached.decoded,
                            cached.redecoded, truth)

    def localisation_truth(self, manifest: pd.DataFrame) -> TruthSource:
        """Lesion boxes (BoxReads) or mask files (MaskFiles) of the abnormal test images of `manifest`, in each
        image's original pixels, or a sentence saying why the data set has none (the default). bench.data.masks
        rasterises them at the cached size."""
        label = vars(type(self)).get("display_name") or self.name
        return f"no localisation ground truth: {label} ships no lesion boxes or masks"

    def bit_depths(self) -> str | None:
        """A sentence naming the bit depths of a tree that mixes them (from each file's header), else None."""
        root = self.require_root()
        found: dict[str, list[str]] = {}
        for relative in self.manifest()["path"]:
            path = Path(relative) if Path(relative).is_absolute() else root / relative
            found.setdefault(bit_depth(path), []).append(str(relative))
        found.pop("unreadable", None)
        if len(found) < 2:
            return None
        parts = ", ".join(f"{len(names)} {depth} (e.g. {names[0]})" for depth, names in sorted(found.items()))
        return f"{self.name}: mixed bit depths: {parts}; every image is {BIT_DEPTH_RULE}"

    def decode_problems(self, progress: Progress | None = None) -> tuple[int, list[str]]:
        """Decode every image of the manifest once (nothing is cached): (images read, one line per failure)."""
        manifest = self.manifest()
        root = self.require_root()
        failures = []
        with (progress or Progress()).task(f"decode {len(manifest)} images", total=len(manifest)) as bar:
            for relative in manifest["path"]:
                path = Path(relative) if Path(relative).is_absolute() else root / relative
                try:
                    load_pixels(path, self.size, self.channels, crop_top=self.crop_top, square=self.square)
                except DataError as exc:
                    failures.append(str(exc))
                bar.advance(1)
        return len(manifest), failures


class OutsideRootError(DataError):
    """A label file names images outside the data folder."""


def check_inside_root(manifest: pd.DataFrame, root: Path, *, dataset: str) -> None:
    """A DataError naming every manifest path (absolute, or with `..`) that leads outside `root`."""
    base = root.resolve()
    outside = [path for path in manifest["path"]
               if not (Path(path) if Path(path).is_absolute() else base / path).resolve().is_relative_to(base)]
    if outside:
        listed = "\n  ".join(outside[:20]) + (f"\n  ... and {len(outside) - 20} more" if len(outside) > 20 else "")
        raise OutsideRootError(f"{dataset}: {len(outside)} label-file entr(y/ies) point outside the data folder "
                               f"{root}:\n  {listed}\nFix the label file, or pass "
                               "--set data.allow_outside_root=true if those files are meant to be read.")


def count_table(actual: Mapping[str, Mapping[int, int]], expected: Mapping[str, Mapping[int, int]]) -> list[tuple]:
    """Rows (split, label, actual, expected) for every split/label in either, in protocol order."""
    rows = []
    for split in SPLITS:
        labels = sorted(set(actual.get(split, {})) | set(expected.get(split, {})))
        for label in labels:
            rows.append((split, label, actual.get(split, {}).get(label, 0), expected.get(split, {}).get(label)))
    return rows
