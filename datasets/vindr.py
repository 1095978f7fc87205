"""VinDr-CXR (the VinBigData Chest X-ray Abnormalities Detection training set) with the Med-AD protocol.

An image is normal when every radiologist's row in train.csv says "No finding" (10,606 of the 15,000),
abnormal otherwise (4,394). The Med-AD counts use all 15,000: 4,000 known normals, an unlabeled pool of 5,606
normal + 3,394 abnormal, and 1,000 + 1,000 test images; the unlabeled training set is 4,000 images at anomaly
ratio 0.6. Images may be the original DICOM files or PNG/JPEG exports with the same names.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd

from bench.core.config import NonNegativeInt, PositiveInt
from bench.data.decode import is_dicom
from bench.data.masks import BoxReads
from bench.datasets import medad_format
from bench.datasets.medad_protocol import MedADOptions, MedADProtocolDataset, read_label_csv

IMAGES = "train"
LABELS = "train.csv"
NO_FINDING = "No finding"
# Preferred first when one image id has several files (a DICOM and its PNG export).
SUFFIXES = (".dicom", ".dcm", ".png", ".jpg", ".jpeg")
MIN_READERS = 2
BOX_RULE = (f"VinDr-CXR: the radiologists' finding boxes (train.csv, x_min, y_min, x_max, y_max in the DICOM's "
            f"pixels, any finding class); a pixel is abnormal where at least {MIN_READERS} of the radiologists who "
            f"read the image boxed it (all of them where fewer than {MIN_READERS} read it)")
EXPORT_REASON = ("a PNG/JPEG export: VinDr-CXR's boxes are in the DICOM's pixels, whose size an export need not "
                 "keep")


@dataclasses.dataclass(frozen=True)
class VinDrOptions(MedADOptions):
    """The Med-AD protocol's VinDr-CXR counts (scale them down with `--set data.<key>=<n>`)."""

    n_normal: PositiveInt | None = 4000
    pool_normal: NonNegativeInt | None = 5606
    pool_abnormal: NonNegativeInt | None = 3394
    unlabeled_size: NonNegativeInt | None = 4000
    n_test: PositiveInt | None = 1000


class VinDrCXRDataset(MedADProtocolDataset):
    """VinDr-CXR chest radiographs, "No finding" vs any finding."""

    name = "vindr"
    display_name = "VinDr-CXR"
    summary = "VinDr-CXR chest X-rays: No finding vs any finding (Med-AD protocol, 64 px)"
    source = ("https://www.kaggle.com/c/vinbigdata-chest-xray-abnormalities-detection (accept the rules, "
              "then `kaggle competitions download -c vinbigdata-chest-xray-abnormalities-detection` and "
              "unzip; also on PhysioNet: https://physionet.org/content/vindr-cxr/)")
    layout = (f"  {IMAGES}/<image_id>.dicom (or .dcm, or a .png/.jpg export)\n"
              f"  {LABELS}   (image_id, class_name, class_id, rad_id, x_min, y_min, x_max, y_max)\n"
              f"or a Med-AD tree (DDAD's preprocessed VinDr-CXR):\n{medad_format.LAYOUT}")
    image_size = 64
    channels = 1
    square = "squash"  # DDAD resized whole (non-square) radiographs to 64 x 64; its Med-AD PNGs are square already
    options_class = VinDrOptions
    has_medad_lists = True
    official_marks = (IMAGES, LABELS)

    def official_problems(self, root: Path) -> list[str]:
        problems = [f"missing {kind} {root / name}" for name, kind in ((IMAGES, "folder"), (LABELS, "file"))
                    if not (root / name).exists()]
        table = read_label_csv(root / LABELS, ("image_id", "class_name"), problems)
        if table is None or not (root / IMAGES).is_dir():
            return problems
        files = _image_files(root)
        missing = [f"missing image {root / IMAGES / image_id}.dicom (or .dcm/.png/.jpg)"
                   for image_id in table["image_id"].unique() if image_id not in files]
        return problems + medad_format.named(missing, what="missing images")

    def official_truth(self, root: Path, images: pd.DataFrame) -> BoxReads:
        """Each radiologist's boxes per image (a reader of "No finding" boxed nothing), fused by MIN_READERS.
        Images held as PNG/JPEG exports get no mask."""
        table = pd.read_csv(root / LABELS, dtype={"image_id": str, "rad_id": str}, keep_default_na=False)
        table = table[table["image_id"].isin(set(images["id"]))]
        coordinates = ["x_min", "y_min", "x_max", "y_max"]
        boxed = table[coordinates].apply(pd.to_numeric, errors="coerce").notna().all(axis=1)
        boxed &= table["class_name"] != NO_FINDING
        reads = {}
        for image_id, rows in table.groupby("image_id", sort=True):
            per_reader = []
            for _, reader_rows in rows.groupby("rad_id", sort=True):
                boxes = reader_rows.loc[boxed[reader_rows.index], coordinates].astype(float)
                per_reader.append(tuple(tuple(map(float, box)) for box in boxes.itertuples(index=False)))
            reads[image_id] = tuple(per_reader)
        excluded = {image_id: EXPORT_REASON for image_id, path in zip(images["id"], images["path"], strict=True)
                    if not is_dicom(root / path)}
        return BoxReads(reads, BOX_RULE, LABELS, MIN_READERS, excluded)

    def official_images(self, root: Path) -> pd.DataFrame:
        table = pd.read_csv(root / LABELS, dtype=str, keep_default_na=False)
        abnormal = (table["class_name"] != NO_FINDING).groupby(table["image_id"], sort=True).any()
        files = _image_files(root)
        return pd.DataFrame({"id": abnormal.index, "path": [f"{IMAGES}/{files.get(i, i + SUFFIXES[0])}"
                                                             for i in abnormal.index],
                             "label": abnormal.to_numpy().astype(int)})


def _image_files(root: Path) -> dict[str, str]:
    """image id -> file name under train/, preferring DICOM where an id has several files."""
    rank = {suffix: i for i, suffix in enumerate(SUFFIXES)}
    files: dict[str, str] = {}
    for name in os.listdir(root / IMAGES):
        stem, suffix = os.path.splitext(name)
        suffix = suffix.lower()
        if suffix not in rank:
            continue
        if stem not in files or rank[suffix] < rank[os.path.splitext(files[stem])[1].lower()]:
            files[stem] = name
    return files
