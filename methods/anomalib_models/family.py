"""`anomalib:<name>`: a detector class per anomalib image model, made on first use from the catalog.

`bench.methods.anomalib_models.family:<key>` resolves through the module `__getattr__` below, so the registry's lazy
"module:Class" entries work for every model without a file per model. padim, patchcore and ganomaly resolve to the
short-name detectors (same presets).
"""

from __future__ import annotations

import functools
import json

from bench.methods.anomalib_models import catalog
from bench.methods.anomalib_models.config import AnomalibConfig
from bench.methods.anomalib_models.detector import SHORT_NAMES, AnomalibDetector

SMOKE_EPOCHS = 1


def presets_for(info: catalog.ModelInfo) -> dict[str, AnomalibConfig]:
    """paper: anomalib's defaults at the data set's size, pretrained; fast: a fifth of the epochs (at least 1);
    smoke: one epoch, random backbone, no download (plumbing only); tiny (the contract checks): smoke's settings,
    which are already one epoch (some models need their own input size, so no smaller one is forced)."""
    epochs = info.epochs or catalog.DEFAULT_EPOCHS
    smoke_args = json.dumps(info.smoke_args) if info.smoke_args else ""
    batch = {"batch_size": info.batch_size} if info.batch_size else {}
    smoke = AnomalibConfig(epochs=SMOKE_EPOCHS, pretrained=False, model_args=smoke_args,
                           **(batch or {"batch_size": 16}))
    return {
        "paper": AnomalibConfig(**batch),
        "fast": AnomalibConfig(epochs=max(1, epochs // 5), **batch),
        "smoke": smoke,
        "tiny": smoke,
    }


@functools.cache
def detector_class(key: str) -> type[AnomalibDetector]:
    """The detector class of `anomalib:<key>` (unsupported or unknown keys raise BenchError with the reason)."""
    info = catalog.model_info(key)
    if info.key in SHORT_NAMES:
        return SHORT_NAMES[info.key]
    attributes = {
        "__doc__": f"{info.summary} (anomalib {info.class_name}, through the generic adapter).",
        "__module__": __name__,
        "name": f"{catalog.FAMILY}:{info.key}",
        "summary": info.summary,
        "in_all": False,
        "model_key": info.key,
        "config_class": AnomalibConfig,
        "presets": presets_for(info),
    }
    return type(f"Anomalib{info.class_name}Detector", (AnomalibDetector,), attributes)


def __getattr__(key: str) -> type[AnomalibDetector]:
    if key not in catalog.models():
        raise AttributeError(f"module {__name__!r} has no attribute {key!r}")
    return detector_class(key)
