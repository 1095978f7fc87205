"""The four self-supervised tasks as settings of the one synthesis core, and the core's shared constants.

Source: hmsch/natural-synthetic-anomalies, `train_chest_xray.py` (SETTINGS `CutPaste`, `FPI`, `FPI-Poisson`,
`Shift-Intensity-M`, and the module constants WIDTH_BOUNDS_PCT, GAMMA_PARAMS, MIN_OVERLAP_PCT, MIN_OBJECT_PCT,
NUM_PATCHES, INTENSITY_LOGISTIC_PARAMS, BACKGROUND). MedIAnomaly's `ssl/one_stage` names the same four settings.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

Blend = Literal["swap", "uniform", "mixed_clone"]
LabelMode = Literal["binary", "continuous", "logistic-intensity"]


@dataclasses.dataclass(frozen=True)
class Task:
    """How one task builds its synthetic anomaly: where the patch comes from and how it is blended and labelled."""

    name: str
    blend: Blend  # swap: hard paste; uniform: convex blend with factor; mixed_clone: Poisson, mixed gradients
    label_mode: LabelMode
    same: bool  # source patch from the destination image itself (else from another training image)
    shift: bool  # patch moved to a new location in the destination
    resize: bool  # patch resampled by a random scale before blending


TASKS: dict[str, Task] = {
    "cutpaste": Task("cutpaste", "swap", "binary", same=True, shift=True, resize=False),
    "fpi": Task("fpi", "uniform", "continuous", same=False, shift=False, resize=False),
    "pii": Task("pii", "mixed_clone", "continuous", same=False, shift=False, resize=False),
    "nsa": Task("nsa", "mixed_clone", "logistic-intensity", same=False, shift=True, resize=True),
}

MAX_ATTEMPTS = 200  # the official retry limit for a patch location (source) and a destination centre
LABEL_TOLERANCE = 1  # mean |change| above which a pixel of a patch counts as changed (`tol`)
MIN_POISSON_AREA = 50  # seamlessClone needs more mask pixels than this; smaller patches are skipped
CONTINUOUS_FACTOR = (0.05, 0.95)  # U(low, high): FPI's / PII's interpolation factor and label
OBJECT_MEDIAN = 7  # median blur of the object mask
LABEL_MEDIAN = 5  # median blur of the changed-pixel mask
INTENSITY_DISK = 5  # disk radius of the median filter of the intensity label
