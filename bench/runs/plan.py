"""Planning: the runs one command asks for (method x data set x seed x preset x settings), each validated before
anything trains, and what came of each (`RunOutcome`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core import registry
from bench.core.overrides import canonical_settings, route_overrides
from bench.data.adapter import PreparedData
from bench.metrics.image import ThresholdPolicy
from bench.metrics.table import METRICS
from bench.runs.identity import config_hash, run_id


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run: which method on which data set, with which seed, preset and overrides. Its folder name also
    needs the data's identity (split and decoded images), known once the data is prepared: `run_id(prepared)`."""

    method: str
    dataset: str
    seed: int
    preset: str
    overrides: Mapping[str, str]
    data_overrides: Mapping[str, str]
    threshold_policy: str | None = None

    @property
    def config_id(self) -> str:
        """`<preset>[-<hash of the settings>]`: what the seeds of one configuration share, on any data. The hash is
        of the parsed values (bench.core.overrides.canonical_settings), so `g_lr=1e-4` and `g_lr=0.0001` are one
        configuration."""
        method = canonical_settings(self.overrides, registry.get_method(self.method).config_class)
        data = canonical_settings(self.data_overrides, registry.get_dataset(self.dataset).options_class)
        policy = str(ThresholdPolicy.parse(self.threshold_policy)) if self.threshold_policy else None
        extra = config_hash(method, data, policy)
        return f"{self.preset}-{extra}" if extra else self.preset

    @property
    def legacy_config_id(self) -> str:
        """The config id bench wrote before it hashed parsed values (the settings' text as typed): how a run done
        then is found again."""
        extra = config_hash(self.overrides, self.data_overrides, self.threshold_policy)
        return f"{self.preset}-{extra}" if extra else self.preset

    def run_id(self, prepared: PreparedData) -> str:
        return run_id(self.config_id, self.seed, prepared.split_id, prepared.images_id)


@dataclasses.dataclass
class RunOutcome:
    spec: RunSpec
    folder: Path
    status: str  # complete | skipped | failed | busy (another process holds the run)
    metrics: dict[str, Any] | None = None
    error: str | None = None


def plan(method_names: list[str], dataset: str, seeds: list[int], preset: str, assignments: Mapping[str, str],
         threshold_policy: str | None = None) -> list[RunSpec]:
    """Validate names, presets and `--set` keys and values now (before anything trains) and return the runs."""
    classes = {name: registry.get_method(name) for name in method_names}
    adapter = registry.get_dataset(dataset)
    per_method, data_overrides = route_overrides(assignments, {n: c.config_class for n, c in classes.items()},
                                                 adapter.options_class)
    adapter.make_options(data_overrides)
    for name, cls in classes.items():
        cls.check_config(cls.preset(preset, per_method[name]))
    if threshold_policy:
        ThresholdPolicy.parse(threshold_policy)
    return [RunSpec(name, dataset, seed, preset, per_method[name], data_overrides, threshold_policy)
            for seed in seeds for name in method_names]


def summarize(outcomes: list[RunOutcome]) -> pd.DataFrame:
    """One row per run: method, seed, status and the main metrics."""
    rows = []
    for outcome in outcomes:
        row = {"method": outcome.spec.method, "seed": outcome.spec.seed, "status": outcome.status}
        row.update({k: (outcome.metrics or {}).get(k) for k in METRICS})
        row["error"] = outcome.error
        rows.append(row)
    return pd.DataFrame(rows)
