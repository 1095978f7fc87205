"""The DDAD / MedIAnomaly "Med-AD" tree (Cai et al., MedIA 2023): preprocessed images plus a `data.json` that
lists each split by file name. It is how most users hold RSNA, VinDr-CXR and LAG, and any new data set can be
written in it. Reading and checking the tree lives here; the split rules live in `medad_protocol.py`.

    images/<name>.png (or .jpg)
    data.json   {"train": {"0": [...], "unlabeled": {"0": [...], "1": [...]}},
                 "test": {"0": [...], "1": [...]}}

The lists are ordered; DDAD's code takes the first n images of each unlabeled list, so order matters.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from bench.core.errors import DataError

DATA_JSON = "data.json"
IMAGES = "images"
# The five lists of a data.json, by their path of keys, with the label of the images each one lists.
LISTS: dict[str, tuple[tuple[str, ...], int]] = {
    "train/0": (("train", "0"), 0),
    "train/unlabeled/0": (("train", "unlabeled", "0"), 0),
    "train/unlabeled/1": (("train", "unlabeled", "1"), 1),
    "test/0": (("test", "0"), 0),
    "test/1": (("test", "1"), 1),
}
LAYOUT = """  images/<name>.png (or .jpg)   the preprocessed images, one folder
  data.json                     {"train": {"0": <names>, "unlabeled": {"0": <names>, "1": <names>}},
                                 "test": {"0": <names>, "1": <names>}}   (file names under images/)"""
MAX_LISTED = 20


def looks_like_medad(root: Path) -> bool:
    """True when `root` holds a data.json (the mark of a Med-AD tree)."""
    return (root / DATA_JSON).is_file()


def named(lines: list[str], *, what: str) -> list[str]:
    """At most MAX_LISTED of `lines`, then one line counting the rest of `what`."""
    if len(lines) <= MAX_LISTED:
        return lines
    return lines[:MAX_LISTED] + [f"... and {len(lines) - MAX_LISTED} more {what} ({len(lines)} in all)"]


def read_lists(root: Path) -> dict[str, list[str]]:
    """The five lists of `root/data.json` by key (see LISTS); a malformed file raises one DataError naming
    every missing or malformed key."""
    path = root / DATA_JSON
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"missing file {path} (the Med-AD split lists)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON: {exc}") from None
    return parse_lists(data, source=str(path))


def parse_lists(data: object, *, source: str) -> dict[str, list[str]]:
    """The five lists of a parsed data.json by key (see LISTS); one DataError naming every missing or
    malformed key of `source`."""
    lists: dict[str, list[str]] = {}
    bad: list[str] = []
    for key, (keys, _) in LISTS.items():
        node = data
        for part in keys:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, list) or not all(isinstance(name, str) for name in node):
            bad.append(key)
        else:
            lists[key] = node
    if bad:
        raise DataError(f"{source} lacks {', '.join(bad)} as list(s) of file names; expected\n{LAYOUT}")
    unknown = _unknown_keys(data)
    if unknown:  # a list bench would not read (test/2, val/...): never ignored silently (issue 28)
        raise DataError(f"{source} holds key(s) bench does not read: {', '.join(unknown)}; only "
                        f"{', '.join(LISTS)} are used: remove or merge them")
    return lists


def _unknown_keys(data: dict) -> list[str]:
    """Paths of keys in data.json outside the five lists (LISTS)."""
    expected = {"": {"train", "test"}, "train": {"0", "unlabeled"}, "train/unlabeled": {"0", "1"}, "test": {"0", "1"}}
    unknown = []
    for prefix, allowed in expected.items():
        node = data
        for part in prefix.split("/") if prefix else []:
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            unknown += [f"{prefix}/{key}" if prefix else str(key) for key in node if key not in allowed]
    return unknown


def medad_problems(root: Path) -> list[str]:
    """Every problem with a Med-AD tree: missing images/ or data.json, malformed lists, images listed twice or
    listed but absent (the first MAX_LISTED named, the rest counted)."""
    problems = []
    images = root / IMAGES
    if not images.is_dir():
        problems.append(f"missing folder {images}/ (the images data.json lists)")
    if not (root / DATA_JSON).is_file():
        problems.append(f"missing file {root / DATA_JSON} (the split lists)")
        return problems
    try:
        lists = read_lists(root)
    except DataError as exc:
        return problems + [str(exc)]
    seen: dict[str, str] = {}
    twice = []
    for key, names in lists.items():
        for name in names:
            if name in seen:
                twice.append(f"{name} is listed in both {seen[name]} and {key} of data.json")
            seen.setdefault(name, key)
    problems += named(twice, what="images listed twice")
    if images.is_dir():
        present = set(os.listdir(images))
        missing = [f"missing image {images / name} (listed in {key} of data.json)"
                   for key, names in lists.items() for name in names
                   if name not in present and not (images / name).is_file()]
        problems += named(missing, what="missing images")
    return problems


def medad_pools(root: Path) -> dict[str, pd.DataFrame]:
    """Each list of data.json as a frame (id = file stem, path under the root, label), in file order."""
    pools = {}
    for key, names in read_lists(root).items():
        label = LISTS[key][1]
        pools[key] = pd.DataFrame({"id": [Path(name).stem for name in names],
                                   "path": [str(Path(IMAGES) / name) for name in names],  # as verify reads it
                                   "label": [label] * len(names)}, columns=["id", "path", "label"])
    return pools
