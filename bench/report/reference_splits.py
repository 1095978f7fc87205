"""The split each protocol's paper numbers come from (the reference split), by split id (bench.data.manifest's
manifest_hash: the data set's name and every test/train image's id, label and split; paths and pixels do not
count). A run on the reference split is comparable with the paper; a run on any other split ("own split") is
comparable only with other runs on that split, and reports show no paper-vs-ours difference for it.

How each id was computed (once; the ids depend on the label files only, never on the pixels):

- rsna, vindr, lag: DDAD's Med-AD lists (bench/datasets/medad_lists/, DDAD-ASR b1b7d0f) with the default Med-AD
  protocol (known normals, 1,000 + 1,000 test, LAG 811 + 811, and the DDAD recipe's unlabeled set: 4,000 at ratio
  0.6, LAG 1,500, the first of each pool list as DDAD's code takes them). The same id comes from DDAD's Med-AD
  tree (`--dataset rsna --root <DDAD's RSNA>`) and from the official download with `--set data.split=medad`;
  tests/datasets/test_medad_split.py computes it from both and tests/report/test_reference_splits.py from the
  shipped lists.
- chestxray14: the seed-0 draw (`data.split_seed=0`, every other option at its default) from
  Data_Entry_2017_v2020.csv as the torchxrayvision 1.5.7 wheel ships it (torchxrayvision/data/
  Data_Entry_2017_v2020.csv.gz; 112,120 rows; sha256 of the uncompressed file
  dc1d2df67fdc1c5a7601d48699cda2b13dc2c4841488b4183dcf04884dbaca11): `ChestXray14Dataset(root).build_manifest()`
  on a folder holding that file, then manifest_hash.
  The file holds 39,302 "No Finding" and 17,828 single-finding PA images, enough for the protocol's counts.
  HealthyGAN published no split list: this is bench's seeded draw, the reproducible stand-in for the paper's.
- covidx: undefined (NO_REFERENCE). COVIDx's label files (COVID-Net's labels/ folder, Kaggle's train.txt and
  test.txt) are not in any package registry, so the seed-0 draw could not be computed here; every COVIDx row
  is "no reference split".

Data sets no paper here reports on (synthetic, a third party's) have no entry: their rows get no mark and keep
their difference to whatever a reported.csv gives for them.
"""

from __future__ import annotations

import dataclasses

import pandas as pd


@dataclasses.dataclass(frozen=True)
class ReferenceSplit:
    """A protocol's reference split: its id (None: not defined, `why` says why) and what it is."""

    split_id: str | None
    what: str
    why: str = ""


REFERENCE_SPLITS: dict[str, ReferenceSplit] = {
    "rsna": ReferenceSplit("485954941ff2", "DDAD's Med-AD lists (data.split=medad, default sizes)"),
    "vindr": ReferenceSplit("53a709573837", "DDAD's Med-AD lists (data.split=medad, default sizes)"),
    "lag": ReferenceSplit("d5612bda2d02", "DDAD's Med-AD lists (data.split=medad, default sizes)"),
    "chestxray14": ReferenceSplit("4472160d5ec8", "the seed-0 draw from Data_Entry_2017_v2020.csv (default sizes)"),
    "covidx": ReferenceSplit(None, "none", "COVIDx's label files are in no package registry: its seed-0 split id "
                                           "was not computed"),
}
OWN_SPLIT = "own split"
REFERENCE = "reference split"
NO_REFERENCE = "no reference split"
OWN_SPLIT_MEANING = ("\"own split\": the run's split is not the protocol's reference split (the one the paper's "
                     "numbers come from), so it is comparable with other runs on the same split, not with the paper; "
                     "no paper-vs-ours difference is shown for it.")


def _same(a: str, b: str) -> bool:
    """Split ids printed at different lengths (8 or 12 hex digits) are the same id when one starts the other."""
    return bool(a) and bool(b) and (a.startswith(b) or b.startswith(a))


def split_status(dataset: str, split_id: object) -> str:
    """REFERENCE, OWN_SPLIT, NO_REFERENCE (the protocol's reference is undefined), or "" (no split: a paper-only
    row; or a data set that no paper here reports on)."""
    reference = REFERENCE_SPLITS.get(str(dataset))
    if reference is None or split_id is None or pd.isna(split_id) or str(split_id) == "":
        return ""
    if reference.split_id is None:
        return NO_REFERENCE
    return REFERENCE if _same(str(split_id), reference.split_id) else OWN_SPLIT


def comparable_with_paper(status: str) -> bool:
    """Whether a row of this split status may show its difference to the paper's number."""
    return status in (REFERENCE, "")
