"""Any data set in the DDAD / MedIAnomaly "Med-AD" format: `images/` plus a `data.json` listing the
known-normal training images, the unlabeled pool and the test images. The split is what data.json lists (every
image, unless a size is set); the unlabeled set is the whole pool unless `--set data.unlabeled_size=N`
(with `data.anomaly_ratio`, default 0.6) asks for a subset. Grayscale unless `--set data.rgb=true`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Literal

from bench.core.errors import DataError
from bench.datasets import medad_format
from bench.datasets.medad_protocol import MedADOptions, MedADProtocolDataset


@dataclasses.dataclass(frozen=True)
class MedADTreeOptions(MedADOptions):
    """Sizes default to None: every image data.json lists."""

    format: Literal["auto", "official", "medad"] = "medad"
    rgb: bool = False  # decode as 3-channel colour (e.g. fundus photographs) instead of grayscale


class MedADDataset(MedADProtocolDataset):
    """A Med-AD tree given by --root; nothing is assumed about what it holds."""

    name = "medad"
    summary = "any DDAD/MedIAnomaly Med-AD tree (images/ + data.json), split as data.json lists"
    source = ("https://github.com/caiyu6666/DDAD-ASR (data/README.md describes the format and how DDAD "
              "builds it for RSNA, VinDr-CXR, LAG and Brain Tumor MRI); any tree in this format works")
    layout = medad_format.LAYOUT
    image_size = 64
    channels = 1
    options_class = MedADTreeOptions

    def __init__(self, root: Path | str | None = None, options: Any | None = None) -> None:
        super().__init__(root, options)
        if self.options.format == "official":
            raise DataError(f"data set medad reads only the Med-AD format; "
                            f"data.format={self.options.format!r} is not possible (the rsna, vindr and lag "
                            "data sets read official downloads)")
        self.channels = 3 if self.options.rgb else 1

    def tree_format(self) -> str:
        return "medad"
