"""RSNA Pneumonia Detection Challenge (Kaggle, stage 2 training set) with the Med-AD protocol of DDAD/SAGAN.

Normal = the challenge's "Normal" patients (8,851), abnormal = "Lung Opacity" (6,012); "No Lung Opacity / Not
Normal" is left out. The Med-AD counts use every one of them: 3,851 known normals, an unlabeled pool of 4,000
normal + 5,012 abnormal, and 1,000 + 1,000 test images. The unlabeled training set is 4,000 images at anomaly
ratio 0.6 drawn from the pool (the DDAD recipe); `--set data.unlabeled_size=...` changes it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pandas as pd

from bench.core.config import NonNegativeInt, PositiveInt
from bench.data.masks import BoxReads
from bench.datasets import medad_format
from bench.datasets.medad_protocol import MedADOptions, MedADProtocolDataset, read_label_csv

IMAGES = "stage_2_train_images"
LABELS = "stage_2_train_labels.csv"
CLASSES = "stage_2_detailed_class_info.csv"
CLASS_LABELS = {"Normal": 0, "Lung Opacity": 1}
EXCLUDED_CLASS = "No Lung Opacity / Not Normal"
BOX_RULE = ("RSNA: the challenge's lung-opacity boxes (stage_2_train_labels.csv, x, y, width, height in the "
            "DICOM's pixels); a pixel is abnormal inside any box of its image")


@dataclasses.dataclass(frozen=True)
class RSNAOptions(MedADOptions):
    """The Med-AD protocol's RSNA counts (scale them down with `--set data.<key>=<n>`)."""

    n_normal: PositiveInt | None = 3851
    pool_normal: NonNegativeInt | None = 4000
    pool_abnormal: NonNegativeInt | None = 5012
    unlabeled_size: NonNegativeInt | None = 4000
    n_test: PositiveInt | None = 1000


class RSNADataset(MedADProtocolDataset):
    """RSNA Pneumonia chest radiographs (DICOM), Normal vs Lung Opacity."""

    name = "rsna"
    display_name = "RSNA"
    summary = "RSNA Pneumonia chest X-rays: Normal vs Lung Opacity (Med-AD protocol, 64 px)"
    source = ("https://www.kaggle.com/c/rsna-pneumonia-detection-challenge (accept the rules, then "
              "`kaggle competitions download -c rsna-pneumonia-detection-challenge` and unzip)")
    layout = (f"  {IMAGES}/<patientId>.dcm\n  {LABELS}   (patientId, x, y, width, height, Target)\n"
              f"  {CLASSES}   (patientId, class)\nor a Med-AD tree (DDAD's preprocessed RSNA):\n"
              f"{medad_format.LAYOUT}")
    image_size = 64
    channels = 1
    options_class = RSNAOptions
    has_medad_lists = True
    official_marks = (IMAGES, LABELS, CLASSES)

    def official_problems(self, root: Path) -> list[str]:
        problems = [f"missing {kind} {root / name}" for name, kind in
                    ((IMAGES, "folder"), (LABELS, "file"), (CLASSES, "file")) if not (root / name).exists()]
        classes = read_label_csv(root / CLASSES, ("patientId", "class"), problems)
        labels = read_label_csv(root / LABELS, ("patientId", "Target"), problems)
        if classes is None:
            return problems
        unknown = sorted(set(classes["class"]) - set(CLASS_LABELS) - {EXCLUDED_CLASS})
        if unknown:
            problems.append(f"{root / CLASSES} has unknown class(es) {unknown}; expected "
                            f"{sorted(CLASS_LABELS)} or {EXCLUDED_CLASS!r}")
        if labels is not None:
            opacity = set(labels.loc[labels["Target"].astype(str) == "1", "patientId"])
            said = set(classes.loc[classes["class"] == "Lung Opacity", "patientId"])
            if opacity != said:
                problems.append(f"{root / LABELS} and {root / CLASSES} disagree on which patients have a "
                                f"lung opacity ({len(opacity ^ said)} patients); re-download both files")
        if (root / IMAGES).is_dir():
            present = set(os.listdir(root / IMAGES))
            used = classes.loc[classes["class"].isin(list(CLASS_LABELS)), "patientId"].unique()
            missing = [f"missing image {root / IMAGES / f'{pid}.dcm'}" for pid in used
                       if f"{pid}.dcm" not in present]
            problems += medad_format.named(missing, what="missing images")
        return problems

    def official_truth(self, root: Path, images: pd.DataFrame) -> BoxReads:
        """Every opacity box of each image, as one reader (the challenge's labels)."""
        table = pd.read_csv(root / LABELS, dtype={"patientId": str})
        table = table[table["patientId"].isin(set(images["id"])) & (table["Target"].astype(str) == "1")]
        table = table.dropna(subset=["x", "y", "width", "height"])
        reads: dict[str, list] = {}
        for row in table.itertuples(index=False):
            reads.setdefault(row.patientId, []).append((float(row.x), float(row.y), float(row.x + row.width),
                                                         float(row.y + row.height)))
        return BoxReads({pid: (tuple(boxes),) for pid, boxes in reads.items()}, BOX_RULE, LABELS)

    def official_images(self, root: Path) -> pd.DataFrame:
        classes = pd.read_csv(root / CLASSES, dtype=str).drop_duplicates("patientId")
        classes = classes[classes["class"].isin(list(CLASS_LABELS))]
        return pd.DataFrame({"id": classes["patientId"], "path": IMAGES + "/" + classes["patientId"] + ".dcm",
                             "label": classes["class"].map(CLASS_LABELS).astype(int)})

