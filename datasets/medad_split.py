"""DDAD's Med-AD split lists, shipped with bench (`medad_lists/`, MIT, see its SOURCE.md), applied to the
official downloads of RSNA, VinDr-CXR and LAG (`--set data.split=medad`).

DDAD lists its preprocessed files by name (`<id>.png`, LAG's `<number>.jpg`); an official download names the
same images by id (the file stem). Each listed name is matched to the download's image of that id, keeping the
list's order (DDAD's code takes the first n of each unlabeled list, so order matters). A listed image the
download lacks, or holds under the other label, is a problem named by id.
"""

from __future__ import annotations

import gzip
import json
import os
from functools import cache
from pathlib import Path

import pandas as pd

from bench.datasets import medad_format

LISTS_DIR = Path(__file__).resolve().parent / "medad_lists"
SHIPPED = {"rsna": "rsna.json.gz", "vindr": "vindr.json.gz", "lag": "lag.json.gz"}
SOURCE = "DDAD's Med-AD lists (github.com/caiyu6666/DDAD-ASR data/{RSNA,VinCXR,LAG}/data.json, MIT)"


@cache
def shipped_lists(dataset: str) -> dict[str, tuple[str, ...]]:
    """The five lists (keys as medad_format.LISTS) of DDAD's data.json for `dataset` (rsna, vindr or lag)."""
    path = LISTS_DIR / SHIPPED[dataset]
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        lists = medad_format.parse_lists(json.load(handle), source=str(path))
    return {key: tuple(names) for key, names in lists.items()}


def listed_problems(dataset: str, root: Path, images: pd.DataFrame) -> list[str]:
    """One line per image DDAD lists for `dataset` that the download lacks (not among `images`, the official
    layout's id/path/label rows, or its file absent) or labels otherwise; the first MAX_LISTED named."""
    paths = dict(zip(images["id"], images["path"], strict=True))
    labels = dict(zip(images["id"], images["label"].astype(int), strict=True))
    folders: dict[Path, set[str]] = {}
    missing, relabelled = [], []
    for key, names in shipped_lists(dataset).items():
        label = medad_format.LISTS[key][1]
        for name in names:
            image_id = Path(name).stem
            if image_id not in paths:
                missing.append(f"missing image {image_id} (DDAD's {dataset} {key} lists {name}; the download's "
                               "label files or folders do not hold it)")
                continue
            path = root / paths[image_id]
            if path.parent not in folders:
                folders[path.parent] = set(os.listdir(path.parent)) if path.parent.is_dir() else set()
            if path.name not in folders[path.parent]:
                missing.append(f"missing image {path} (DDAD's {dataset} {key} lists {name})")
            elif labels[image_id] != label:
                relabelled.append(f"image {image_id} is labelled {labels[image_id]} in the download but DDAD's "
                                  f"{dataset} {key} lists it as {label}")
    return (medad_format.named(missing, what="images DDAD lists that the download lacks")
            + medad_format.named(relabelled, what="images labelled otherwise"))


def listed_pools(dataset: str, images: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Each DDAD list of `dataset` as the download's rows (id, path, label), in list order."""
    by_id = images.drop_duplicates("id").set_index("id")
    pools = {}
    for key, names in shipped_lists(dataset).items():
        ids = [Path(name).stem for name in names]
        rows = by_id.loc[ids, ["path"]].reset_index()
        rows["label"] = medad_format.LISTS[key][1]
        pools[key] = rows[["id", "path", "label"]]
    return pools
