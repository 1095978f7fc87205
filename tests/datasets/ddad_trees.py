"""Official-layout trees (RSNA, VinDr-CXR, LAG) and DDAD Med-AD trees built around DDAD's real split lists
(the lists bench ships, datasets/medad_lists/): every id DDAD lists gets a generated image, in the download's
layout and label files, or under images/ with DDAD's data.json. The pixels are generated (one tiny file copied
under every name: these trees test splits, not pixels)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from bench.datasets.medad_split import LISTS_DIR, SHIPPED, shipped_lists
from tests.datasets.fake_trees import MEDAD_KEYS, ramp, write_dicom, write_jpeg, write_png

EXTRA_NOT_NORMAL = 3  # RSNA patients of the third class ("No Lung Opacity / Not Normal"), in no list


def ddad_ids(dataset: str) -> dict[str, list[str]]:
    """DDAD's lists of `dataset` as image ids (file stems), by key."""
    return {key: [Path(name).stem for name in names] for key, names in shipped_lists(dataset).items()}


def ddad_labels(dataset: str) -> dict[str, int]:
    """{id: label} of every image DDAD lists for `dataset`."""
    return {image_id: int(key.endswith("1")) for key, ids in ddad_ids(dataset).items() for image_id in ids}


def _copies(template: Path, folder: Path, names: list[str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    data = template.read_bytes()
    for name in names:
        (folder / name).write_bytes(data)


def write_official_ddad(dataset: str, root: Path) -> dict[str, int]:
    """The official layout of `dataset` holding exactly the images DDAD lists (RSNA: plus EXTRA_NOT_NORMAL
    patients of the class no list uses); returns {id: label} of the listed ones."""
    labels = ddad_labels(dataset)
    template = root / "template"
    if dataset == "rsna":
        write_dicom(template, ramp(16), patient_id="template")
        extra = [f"ffffffff-0000-4000-8000-{i:012x}" for i in range(EXTRA_NOT_NORMAL)]
        _copies(template, root / "stage_2_train_images", [f"{pid}.dcm" for pid in [*labels, *extra]])
        classes = [(pid, "Lung Opacity" if label else "Normal") for pid, label in labels.items()]
        classes += [(pid, "No Lung Opacity / Not Normal") for pid in extra]
        pd.DataFrame(classes, columns=["patientId", "class"]).to_csv(root / "stage_2_detailed_class_info.csv",
                                                                     index=False)
        boxes = [(pid, 2.0, 3.0, 5.0, 6.0, 1) if label else (pid, None, None, None, None, 0)
                 for pid, label in labels.items()] + [(pid, None, None, None, None, 0) for pid in extra]
        pd.DataFrame(boxes, columns=["patientId", "x", "y", "width", "height", "Target"]).to_csv(
            root / "stage_2_train_labels.csv", index=False)
    elif dataset == "vindr":
        write_dicom(template, ramp(16, high=4095, dtype=np.uint16), bits_stored=12, photometric="MONOCHROME1")
        _copies(template, root / "train", [f"{image_id}.dicom" for image_id in labels])
        rows = [(image_id, "Cardiomegaly", 3, "R8", 2.0, 3.0, 9.0, 9.0) if label
                else (image_id, "No finding", 14, "R8", None, None, None, None) for image_id, label in labels.items()]
        pd.DataFrame(rows, columns=["image_id", "class_name", "class_id", "rad_id", "x_min", "y_min", "x_max",
                                    "y_max"]).to_csv(root / "train.csv", index=False)
    else:
        write_jpeg(template, ramp(16, rgb=True))
        for label, folder in ((0, "non_glaucoma"), (1, "suspicious_glaucoma")):
            _copies(template, root / folder / "image", [f"{stem}.jpg" for stem, lab in labels.items() if lab == label])
    template.unlink()
    return labels


def write_medad_ddad(dataset: str, root: Path) -> None:
    """DDAD's own Med-AD tree of `dataset`: its data.json (the shipped file, byte for byte) and images/."""
    root.mkdir(parents=True, exist_ok=True)
    with gzip.open(LISTS_DIR / SHIPPED[dataset]) as source, open(root / "data.json", "wb") as target:
        shutil.copyfileobj(source, target)
    template = root / "template.png"
    write_png(template, ramp(16))
    _copies(template, root / "images", [name for key in MEDAD_KEYS for name in shipped_lists(dataset)[key]])
    template.unlink()
