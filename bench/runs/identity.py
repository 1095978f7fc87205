"""A run's identity: its folder name from the configuration, the seed and the data's identity (split and images)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def config_hash(overrides: Mapping[str, Any], data_overrides: Mapping[str, Any],
                threshold_policy: str | None = None) -> str:
    """8 hex digits of what was set on top of the preset (method and data overrides, a requested threshold
    policy); empty when nothing was."""
    extra = dict(sorted(overrides.items()))
    if threshold_policy:
        extra["threshold_policy"] = threshold_policy
    if not extra and not data_overrides:
        return ""
    blob = json.dumps({"method": extra, "data": dict(sorted(data_overrides.items()))}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:8]


def run_id(config_id: str, seed: int, split_id: str, images_id: str) -> str:
    """`<preset>[-<config hash>]-seed<seed>-<split hash>-<images hash>`: two runs on different splits, or on the
    same split with different image contents, never share a folder."""
    return f"{config_id}-seed{seed}-{split_id[:8]}-{images_id[:6]}"


def run_dir(runs_root: Path, dataset: str, method: str, rid: str) -> Path:
    """The folder of one run; method names like `anomalib:stfpm` become `anomalib-stfpm`."""
    return Path(runs_root) / dataset / method.replace(":", "-") / rid
