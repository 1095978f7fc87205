"""COVIDx (COVID-Net releases): normal vs COVID-19 chest radiographs under HealthyGAN's split protocol.

Label files (verified against the COVID-Net repository's `labels/` folder and the Kaggle `covidx-cxr2`
release): one image a line, space-separated `patient_id filename class data_source`. Releases COVIDx3 to
COVIDx8A and COVIDx CXR-3A use the classes `normal`, `pneumonia`, `COVID-19`; the binary releases (the
January 2021 one, COVIDx7B, COVIDx8B, COVIDx CXR-2 / CXR-3B on Kaggle) use `negative`, `positive`. Some
patient ids hold a space ("COVID 70"), so a line is read from its end: class (then data_source) last, the
file name before it. Lines without the data_source column are accepted too.

Pneumonia: the protocol is normal vs COVID-19, so the non-COVID pneumonia images of the 3-class releases are
left out by default (`--set data.pneumonia=normal` counts them as normal instead). HealthyGAN's counts point
to a binary release: 10,031 + 3,663 = 13,694 normal = COVIDx7B's 13,794 negative training images minus 100,
and 1,570 COVID-19 = its 1,670 positive ones minus 100; its test set is COVIDx7B's 100 + 100, and its code
names the lists pos/neg. There "normal" means COVID-19 negative, which includes non-COVID pneumonia: a
binary release cannot separate them. A 3-class release cannot reach these counts (COVIDx7A holds 7,966
normal and 5,475 pneumonia training images).

Splits, drawn by `split_seed` with one independent stream per pool: from train.txt, the normal pool gives
val -> train_normal -> unlabeled normals and the COVID-19 pool gives val -> unlabeled COVID-19 images, each
a slice of one permutation (changing the unlabeled set's size or ratio leaves train_normal and val
unchanged); the test split is `n_test` images per class of the official test.txt (the whole official list
when it holds 100 + 100). The images of train.txt that no split asks for stay unused. The paper states no
validation split (`n_val` = 0).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from bench.core.config import Fraction, NonNegativeInt, PositiveInt
from bench.core.errors import BenchError
from bench.data.adapter import DataOptions, DatasetAdapter
from bench.data.manifest import draw_splits, shuffle_within_splits

CLASSES = {"normal": "normal", "negative": "negative", "pneumonia": "pneumonia", "covid-19": "COVID-19",
           "positive": "positive"}
MAX_LISTED = 20  # missing images / malformed lines named one by one before the rest are counted


@dataclasses.dataclass(frozen=True)
class COVIDxOptions(DataOptions):
    """HealthyGAN's COVIDx protocol (`--set data.<key>=...`); val and test counts are per class."""

    n_normal: PositiveInt = 10_031  # known-normal training images
    unlabeled_size: NonNegativeInt = 5_233  # 3,663 normal + 1,570 COVID-19
    anomaly_ratio: Fraction = 1_570 / 5_233  # fraction of COVID-19 images in the unlabeled set
    n_val: NonNegativeInt = 0  # per class, from train.txt (the paper states none)
    n_test: PositiveInt = 100  # per class, from the official test.txt
    pneumonia: Literal["exclude", "normal"] = "exclude"  # non-COVID pneumonia of 3-class releases
    train_labels: str = "train.txt"  # e.g. train_COVIDx7B.txt for the release HealthyGAN's counts match
    test_labels: str = "test.txt"


def parse_label_file(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Rows (patient_id, filename, class, source) of a COVID-Net label file, and one problem per bad line."""
    rows, problems = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) >= 4 and tokens[-2].lower() in CLASSES:
            at, source = len(tokens) - 2, tokens[-1]
        elif len(tokens) >= 3 and tokens[-1].lower() in CLASSES:
            at, source = len(tokens) - 1, ""
        else:
            problems.append(f"{path} line {number}: expected 'patient_id filename class data_source' with "
                            f"class one of {', '.join(CLASSES.values())}, got {line.strip()[:100]!r}")
            continue
        rows.append((" ".join(tokens[: at - 1]), tokens[at - 1], CLASSES[tokens[at].lower()], source))
    table = pd.DataFrame(rows, columns=["patient_id", "filename", "class", "source"])
    conflicting = table.groupby("filename")["class"].nunique()
    problems += [f"{path}: {name} is listed with different classes"
                 for name in conflicting[conflicting > 1].index]
    return table.drop_duplicates("filename").reset_index(drop=True), problems


def capped(lines: list[str], what: str) -> list[str]:
    """The first MAX_LISTED of `lines`, then one line counting the rest."""
    if len(lines) <= MAX_LISTED:
        return lines
    return lines[:MAX_LISTED] + [f"... and {len(lines) - MAX_LISTED} more {what}"]


class COVIDxDataset(DatasetAdapter):
    """COVIDx chest radiographs (COVID-Net): known normals, a mixed unlabeled set, the official test list."""

    name = "covidx"
    display_name = "COVIDx"
    summary = "COVIDx CXR (COVID-Net): normal vs COVID-19 chest X-rays, HealthyGAN protocol, 256 px"
    source = ("the COVIDx CXR releases of COVID-Net, "
              "https://github.com/lindawangg/COVID-Net/blob/master/docs/COVIDx.md (the label files of every "
              "release are in its labels/ folder), or Kaggle: "
              "`kaggle datasets download -d andyczhao/covidx-cxr2` and unzip into the root. "
              "HealthyGAN's counts match COVIDx7B: to use its label files, pass "
              "--set data.train_labels=train_COVIDx7B.txt --set data.test_labels=test_COVIDx7B.txt")
    layout = ("  train.txt         one image a line: patient_id filename class data_source\n"
              "                    (space-separated; class: normal | pneumonia | COVID-19,\n"
              "                    or negative | positive)\n"
              "  test.txt          the official test list, same format\n"
              "  train/<filename>  the images of train.txt\n"
              "  test/<filename>   the images of test.txt")
    image_size = 256
    channels = 1
    crop_top = 0.08  # HealthyGAN's code drops the top 8% of rows (text markers) before the centre crop
    options_class = COVIDxOptions

    def __init__(self, root: Path | str | None = None, options: COVIDxOptions | None = None) -> None:
        super().__init__(root, options)
        self._tables: dict[str, tuple[pd.DataFrame, list[str]]] = {}

    def protocol(self) -> dict[str, dict[int, int]]:
        o = self.options
        if not 0.0 <= o.anomaly_ratio <= 1.0:
            raise BenchError(f"data.anomaly_ratio={o.anomaly_ratio} must lie between 0 and 1")
        if min(o.n_normal, o.unlabeled_size, o.n_val, o.n_test) < 0 or o.n_normal == 0:
            raise BenchError("covidx counts must be >= 0 and data.n_normal >= 1")
        n_covid = int(round(o.unlabeled_size * o.anomaly_ratio))
        expected = {"train_normal": {0: o.n_normal},
                    "train_unlabeled": {0: o.unlabeled_size - n_covid, 1: n_covid}}
        if o.n_val:
            expected["val"] = {0: o.n_val, 1: o.n_val}
        expected["test"] = {0: o.n_test, 1: o.n_test}
        return expected

    def label_path(self, part: str) -> Path:
        """The label file of `part` ("train" or "test") under the root."""
        assert self.root is not None
        return self.root / (self.options.train_labels if part == "train" else self.options.test_labels)

    def table(self, part: str) -> tuple[pd.DataFrame, list[str]]:
        """Rows of the `part` label file with a 0/1 `label` (excluded classes dropped) and its problems."""
        if part not in self._tables:
            table, problems = parse_label_file(self.label_path(part))
            labels = {"normal": 0, "negative": 0, "COVID-19": 1, "positive": 1}
            if self.options.pneumonia == "normal":
                labels["pneumonia"] = 0
            table = table[table["class"].isin(labels)].assign(label=lambda t: t["class"].map(labels))
            self._tables[part] = (table.reset_index(drop=True), problems)
        return self._tables[part]

    def problems(self) -> list[str]:
        assert self.root is not None
        found: list[str] = []
        for part in ("train", "test"):
            labels, folder = self.label_path(part), self.root / part
            if not labels.is_file():
                found.append(f"missing label file {labels}")
            if not folder.is_dir():
                found.append(f"missing image folder {folder}/")
            if not labels.is_file():
                continue
            table, bad_lines = self.table(part)
            found += capped(bad_lines, f"malformed lines in {labels.name}")
            if not bad_lines and table.empty:
                found.append(f"{labels} lists no normal or COVID-19 image")
            if folder.is_dir():
                present = {entry.name for entry in folder.iterdir()}
                missing = [f"missing image {folder / name} (listed in {labels.name})"
                           for name in table["filename"] if name not in present]
                found += capped(missing, f"missing images of {labels.name}")
        return found

    def build_manifest(self) -> pd.DataFrame:
        o = self.options
        expected = self.protocol()
        train, _ = self.table("train")
        test, _ = self.table("test")
        n_val = o.n_val
        unlabeled = expected["train_unlabeled"]
        normal_wants = {"val": n_val, "train_normal": o.n_normal, "train_unlabeled": unlabeled[0]}
        covid_wants = {"val": n_val, "train_unlabeled": unlabeled[1]}
        normal_names = "normal/negative" + (" + pneumonia" if o.pneumonia == "normal" else "")
        pools = [
            ("train", train[train["label"] == 0], normal_wants, f"{o.train_labels} {normal_names} pool"),
            ("train", train[train["label"] == 1], covid_wants, f"{o.train_labels} COVID-19/positive pool"),
            ("test", test[test["label"] == 0], {"test": o.n_test}, f"{o.test_labels} {normal_names} pool"),
            ("test", test[test["label"] == 1], {"test": o.n_test}, f"{o.test_labels} COVID-19/positive pool"),
        ]
        parts = []
        for index, (folder, pool, wants, what) in enumerate(pools):
            rng = np.random.default_rng([o.split_seed, index])
            drawn = draw_splits(pool, wants, rng, what=f"covidx: {what}", allow_short=o.allow_short)
            for split, rows in drawn.items():
                relative = folder + "/" + rows["filename"]
                parts.append(pd.DataFrame({"id": relative, "path": relative, "label": rows["label"],
                                           "split": split, "finding": rows["class"]}))
        return shuffle_within_splits(pd.concat(parts, ignore_index=True), o.split_seed)

