"""NIH ChestX-ray14: "No Finding" vs single-finding PA radiographs under HealthyGAN's split protocol.

Labels come from `Data_Entry_2017.csv` (the NIH box's `Data_Entry_2017_v2020.csv` is read too): columns
`Image Index`, `Finding Labels` ("No Finding" or findings joined by "|") and `View Position` (PA / AP). As
the HealthyGAN paper says, only PA views count; "No Finding" is normal (0), exactly one finding is abnormal
(1), and images with two or more findings are left out.

Splits, drawn by `split_seed` with one independent stream per pool, each a slice of one permutation in the
order test -> val -> train_normal -> train_unlabeled, so changing the unlabeled set's size or ratio leaves
the evaluation splits and the known normals unchanged. Images are drawn one by one (the protocol states no
patient-wise split), so one patient's images may sit in several splits. The protocol asks for 17,195 single-
finding PA images (3,195 unlabeled + 4,000 val + 10,000 test), which the download may not hold: the error
then names the pool and the gap, and with `--set data.allow_short=true` every abnormal split shrinks in
proportion, with a warning, and `bench data verify` shows the counts drawn against the protocol's. Nothing
is ever padded.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.config import Fraction, NonNegativeInt, PositiveInt
from bench.core.errors import BenchError
from bench.data.adapter import DataOptions, DatasetAdapter
from bench.data.manifest import draw_splits, shuffle_within_splits

LABEL_FILES = ("Data_Entry_2017.csv", "Data_Entry_2017_v2020.csv")
COLUMNS = ("Image Index", "Finding Labels", "View Position")
NORMAL = "No Finding"
MAX_LISTED = 20  # missing images named one by one before the rest are counted


@dataclasses.dataclass(frozen=True)
class ChestXray14Options(DataOptions):
    """HealthyGAN's ChestX-ray14 protocol (`--set data.<key>=...`); val and test counts are per class."""

    n_normal: PositiveInt = 10_000  # known-normal training images
    unlabeled_size: NonNegativeInt = 8_195  # 5,000 normal + 3,195 diseased
    anomaly_ratio: Fraction = 3_195 / 8_195  # fraction of diseased images in the unlabeled set
    n_val: NonNegativeInt = 4_000  # per class
    n_test: PositiveInt = 10_000  # per class
    views: tuple[str, ...] = ("PA",)  # View Position values kept


def image_index(root: Path) -> dict[str, str]:
    """File name -> path relative to `root` of every PNG under `images*/` (also `images_NNN/images/`)."""
    found: dict[str, str] = {}
    for folder in sorted(root.glob("images*")):
        for inner in (folder, folder / "images"):
            if inner.is_dir():
                prefix = inner.relative_to(root).as_posix()
                with os.scandir(inner) as entries:
                    for entry in entries:
                        if entry.name.lower().endswith(".png"):
                            found.setdefault(entry.name, f"{prefix}/{entry.name}")
    return found


def label_of(findings: str) -> int | None:
    """0 for "No Finding", 1 for exactly one finding, None for two or more."""
    names = [name.strip() for name in str(findings).split("|") if name.strip()]
    if names == [NORMAL]:
        return 0
    if len(names) == 1:
        return 1
    return None


class ChestXray14Dataset(DatasetAdapter):
    """NIH ChestX-ray14 PA radiographs: normal vs exactly one of the 14 findings."""

    name = "chestxray14"
    display_name = "ChestX-ray14"
    summary = "NIH ChestX-ray14: PA views, No Finding vs one finding, HealthyGAN protocol, 128 px"
    source = ("NIH Clinical Center, https://nihcc.app.box.com/v/ChestXray-NIHCC (images_001.tar.gz ... "
              "images_012.tar.gz and Data_Entry_2017_v2020.csv, extracted into the root), or Kaggle: "
              "`kaggle datasets download -d nih-chest-xrays/data` and unzip into the root")
    layout = ("  Data_Entry_2017.csv   (or Data_Entry_2017_v2020.csv) columns include Image Index,\n"
              "                        Finding Labels, View Position\n"
              "  images/<Image Index>  the PNG files; or, as Kaggle unpacks them,\n"
              "                        images_001/images/*.png ... images_012/images/*.png")
    image_size = 128
    channels = 1
    options_class = ChestXray14Options

    def __init__(self, root: Path | str | None = None, options: ChestXray14Options | None = None) -> None:
        super().__init__(root, options)
        self._eligible: pd.DataFrame | None = None
        self._paths: dict[str, str] | None = None

    def protocol(self) -> dict[str, dict[int, int]]:
        o = self.options
        if not 0.0 <= o.anomaly_ratio <= 1.0:
            raise BenchError(f"data.anomaly_ratio={o.anomaly_ratio} must lie between 0 and 1")
        if min(o.n_normal, o.unlabeled_size, o.n_val, o.n_test) < 0 or o.n_normal == 0:
            raise BenchError("chestxray14 counts must be >= 0 and data.n_normal >= 1")
        n_diseased = int(round(o.unlabeled_size * o.anomaly_ratio))
        return {"train_normal": {0: o.n_normal},
                "train_unlabeled": {0: o.unlabeled_size - n_diseased, 1: n_diseased},
                "val": {0: o.n_val, 1: o.n_val}, "test": {0: o.n_test, 1: o.n_test}}

    def label_file(self) -> Path:
        """The label CSV under the root (the first of LABEL_FILES that exists)."""
        assert self.root is not None
        for name in LABEL_FILES:
            if (self.root / name).is_file():
                return self.root / name
        return self.root / LABEL_FILES[0]

    def paths(self) -> dict[str, str]:
        """Image file name -> path relative to the root (scanned once)."""
        if self._paths is None:
            assert self.root is not None
            self._paths = image_index(self.root)
        return self._paths

    def eligible(self) -> pd.DataFrame:
        """Rows of the label file in the kept views with "No Finding" or one finding, with a 0/1 label."""
        if self._eligible is None:
            table = pd.read_csv(self.label_file(), usecols=list(COLUMNS), dtype=str)
            table = table[table["View Position"].str.strip().isin(self.options.views)]
            labels = table["Finding Labels"].map(label_of)
            table = table.assign(label=labels)[labels.notna()]
            self._eligible = table.astype({"label": np.int64}).reset_index(drop=True)
        return self._eligible

    def problems(self) -> list[str]:
        labels = self.label_file()
        found: list[str] = []
        if not labels.is_file():
            found.append(f"missing label file {labels} (Data_Entry_2017_v2020.csv is accepted too)")
        if not self.paths():
            found.append(f"missing image folder {self.root}/images/ (or images_001/ ... images_012/): "
                         "no PNG files found under images*/")
        if not labels.is_file():
            return found
        try:
            header = pd.read_csv(labels, nrows=0).columns.str.strip()
        except (ValueError, UnicodeDecodeError) as exc:  # pandas' parser errors are ValueErrors
            return found + [f"cannot read {labels} as CSV: {exc}"]
        absent = [c for c in COLUMNS if c not in header]
        if absent:
            return found + [f"{labels} lacks column(s) {', '.join(absent)}"]
        if not self.paths():
            return found
        missing = [name for name in self.eligible()["Image Index"] if name not in self.paths()]
        found += [f"missing image {name} (listed in {labels.name}; expected under images*/)"
                  for name in missing[:MAX_LISTED]]
        if len(missing) > MAX_LISTED:
            found.append(f"... and {len(missing) - MAX_LISTED} more missing images of {len(self.eligible())} "
                         f"{'/'.join(self.options.views)} images with no or one finding")
        return found

    def build_manifest(self) -> pd.DataFrame:
        o = self.options
        expected = self.protocol()
        table = self.eligible()
        views = "/".join(o.views)
        pools = [
            (table[table["label"] == 0], {"test": o.n_test, "val": o.n_val, "train_normal": o.n_normal,
                                          "train_unlabeled": expected["train_unlabeled"][0]},
             f'{views} "No Finding" pool'),
            (table[table["label"] == 1], {"test": o.n_test, "val": o.n_val,
                                          "train_unlabeled": expected["train_unlabeled"][1]},
             f"{views} single-finding pool"),
        ]
        paths = self.paths()
        parts = []
        for index, (pool, wants, what) in enumerate(pools):
            rng = np.random.default_rng([o.split_seed, index])
            drawn = draw_splits(pool, wants, rng, what=f"chestxray14: {what}", allow_short=o.allow_short)
            for split, rows in drawn.items():
                parts.append(pd.DataFrame({"id": rows["Image Index"], "path": rows["Image Index"].map(paths),
                                           "label": rows["label"], "split": split,
                                           "finding": rows["Finding Labels"].str.strip()}))
        return shuffle_within_splits(pd.concat(parts, ignore_index=True), o.split_seed)
