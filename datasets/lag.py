"""LAG (Large-scale Attention-based Glaucoma) fundus photographs with the Med-AD protocol. RGB.

The released folders hold 3,143 non-glaucoma and 1,711 suspicious-glaucoma images; the Med-AD counts use all
of them: 1,500 known normals, an unlabeled pool of 832 normal + 900 abnormal, and 811 + 811 test images. The
unlabeled training set is 1,500 images at anomaly ratio 0.6 (the DDAD recipe).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd

from bench.core.config import NonNegativeInt, PositiveInt
from bench.datasets import medad_format
from bench.datasets.medad_protocol import MedADOptions, MedADProtocolDataset

FOLDERS = {"non_glaucoma/image": 0, "suspicious_glaucoma/image": 1}
SUFFIXES = {".jpg", ".jpeg", ".png"}


@dataclasses.dataclass(frozen=True)
class LAGOptions(MedADOptions):
    """The Med-AD protocol's LAG counts (scale them down with `--set data.<key>=<n>`)."""

    n_normal: PositiveInt | None = 1500
    pool_normal: NonNegativeInt | None = 832
    pool_abnormal: NonNegativeInt | None = 900
    unlabeled_size: NonNegativeInt | None = 1500
    n_test: PositiveInt | None = 811


class LAGDataset(MedADProtocolDataset):
    """LAG fundus photographs, non-glaucoma vs suspicious glaucoma."""

    name = "lag"
    display_name = "LAG"
    summary = "LAG glaucoma fundus photographs (RGB): non-glaucoma vs glaucoma (Med-AD protocol, 64 px)"
    source = ("https://github.com/smilell/AG-CNN (the LAG database of Li et al., CVPR 2019: a Dropbox "
              "archive whose password the authors give on request, for academic use; no Kaggle copy)")
    layout = ("  non_glaucoma/image/<name>.jpg\n  suspicious_glaucoma/image/<name>.jpg\n"
              f"or a Med-AD tree (DDAD's LAG: every image in one images/ folder):\n{medad_format.LAYOUT}")
    image_size = 64
    channels = 3
    options_class = LAGOptions
    has_medad_lists = True
    official_marks = ("non_glaucoma", "suspicious_glaucoma")

    def official_problems(self, root: Path) -> list[str]:
        problems = []
        for folder in FOLDERS:
            if not (root / folder).is_dir():
                problems.append(f"missing folder {root / folder}")
            elif not _images(root / folder):
                problems.append(f"folder {root / folder} holds no .jpg/.png images")
        return problems

    def official_images(self, root: Path) -> pd.DataFrame:
        rows = [(path.stem, path.relative_to(root).as_posix(), label)
                for folder, label in FOLDERS.items() for path in _images(root / folder)]
        table = pd.DataFrame(rows, columns=["id", "path", "label"])
        if table["id"].duplicated().any():  # the release numbers images across both folders; if not, qualify
            table["id"] = [f"{Path(path).parts[0]}/{stem}" for stem, path in zip(table["id"], table["path"],
                                                                                  strict=True)]
        return table


def _images(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix.lower() in SUFFIXES)
