"""Sweeps: `--set key=v1,v2` value lists expand to a grid (the product of every list); each point of the grid is an
ordinary set of `--set` assignments, planned by bench.runs.plan.plan into ordinary runs (own run id, resumable, skipped
when complete).

How a value lists several is the `--set` grammar's (bench.core.overrides).
Each point's values are exactly the text a single-run `--set` would carry, so a sweep point and the same run started
alone share one run folder.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Iterable, Mapping, Sequence

from rich.markup import escape
from rich.table import Table

from bench.core import registry
from bench.core.config import ValueParseError, field_types
from bench.core.errors import BenchError
from bench.core.overrides import Assignment, by_scope, key_type, parse_assignments, split_values
from bench.runs.plan import RunSpec, plan


@dataclasses.dataclass(frozen=True)
class Sweep:
    """Every `--set` key (command-line order) with its values; a key with several values is swept."""

    values: Mapping[str, tuple[str, ...]]

    @property
    def swept(self) -> list[str]:
        return [key for key, values in self.values.items() if len(values) > 1]

    def points(self) -> list[dict[str, str]]:
        """The grid: one dict of assignments per point, the first key varying slowest."""
        keys = list(self.values)
        return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*self.values.values())]


def parse_sweep(items: Iterable[str], method_configs: Mapping[str, type],
                data_config: type | Sequence[type] | None) -> Sweep:
    """`--set` items -> a Sweep (a repeated key: the last one counts, as for a single run); `data_config`: the
    options class of each selected data set."""
    assignments = parse_assignments(items)
    return Sweep({key: split_values(key, raw, key_type(key, method_configs, data_config))
                  for key, raw in assignments.items()})


def _identity(spec: RunSpec) -> tuple:
    return spec.method, spec.dataset, spec.seed, spec.config_id


def data_key(spec: RunSpec) -> tuple[str, str]:
    """What decides a run's prepared data: its data set and data overrides."""
    return spec.dataset, json.dumps(dict(spec.data_overrides), sort_keys=True)


@dataclasses.dataclass
class SweepPlan:
    """The runs of a (possibly one-point) grid, each once, in grid order."""

    sweep: Sweep
    points: list[dict[str, str]]
    specs: list[RunSpec]
    runs_per_point: list[int]  # new runs each point adds (a method without the swept key runs once, not per value)
    datasets: list[str] = dataclasses.field(default_factory=list)
    data_scope: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # data.* keys only some data sets have

    def notes(self) -> list[str]:
        """Where a `--set data.KEY` reaches only some of the data sets: one line each, printed with the plan."""
        lines = []
        for key, having in self.data_scope.items():
            others = ", ".join(n for n in self.datasets if n not in having)
            lines.append(f"--set {key} applies to {', '.join(having)} only ({others}: no such key)")
        return lines

    def label(self, spec: RunSpec) -> str:
        """The swept values of a run, `n_components=2, data.anomaly_ratio=0.2` ("" without a sweep; keys that do not
        reach this run's method are left out)."""
        parts = []
        for key in self.sweep.swept:
            assignment = Assignment(key, "")
            if assignment.scope == "data":
                value = spec.data_overrides.get(assignment.field)
            else:
                owner = assignment.owner
                value = None if owner is not None and owner != spec.method else spec.overrides.get(assignment.field)
            if value is not None:
                parts.append(f"{key}={value}")
        return ", ".join(parts)

    def groups(self) -> list[tuple[Mapping[str, str], list[RunSpec]]]:
        """The runs grouped by the data they need (data set and data overrides), each group's data prepared once."""
        grouped: dict[tuple[str, str], list[RunSpec]] = {}
        for spec in self.specs:
            grouped.setdefault(data_key(spec), []).append(spec)
        return [(group[0].data_overrides, group) for group in grouped.values()]

    def table(self) -> Table:
        """The grid as a table, printed before a sweep starts."""
        swept = self.sweep.swept
        table = Table(title=f"sweep: {len(self.points)} points, {len(self.specs)} runs")
        for column in ("point", *swept, "runs"):
            table.add_column(escape(column), justify="right" if column in ("point", "runs") else "left")
        for index, (point, runs) in enumerate(zip(self.points, self.runs_per_point, strict=True), start=1):
            table.add_row(str(index), *(escape(point[key]) for key in swept), str(runs))
        return table


def data_scope(sweep: Sweep, data_configs: Mapping[str, type]) -> dict[str, list[str]]:
    """The `data.*` keys that only some of several data sets have -> those data sets (the key applies to them and
    leaves the others as they are). A key none of several data sets has is an error; with one data set,
    bench.runs.plan.plan names the valid keys as always."""
    scope: dict[str, list[str]] = {}
    for key in sweep.values:
        if Assignment(key, "").scope != "data":
            continue
        having = [name for name, cls in data_configs.items() if Assignment(key, "").field in field_types(cls)]
        if not having and len(data_configs) > 1:
            valid = sorted({f"data.{k}" for cls in data_configs.values() for k in field_types(cls)})
            raise BenchError(f"--set {key}: none of the data sets {', '.join(data_configs)} has this key; valid "
                             f"keys: {', '.join(valid)}")
        if having and len(having) < len(data_configs):
            scope[key] = having
    return scope


def _check_data_options(dataset: str, assignments: Mapping[str, str]) -> None:
    """Validate the `data.*` values for one of several data sets; an error names that data set."""
    cls = registry.get_dataset(dataset)
    try:
        cls.make_options(by_scope(assignments, "data"))
    except ValueParseError as exc:  # unknown keys and ranges name the data set already; a bad value does not
        raise BenchError(f"data set {dataset}: {exc}") from None


def plan_sweep(method_names: list[str], dataset: str | Sequence[str], seeds: Sequence[int], preset: str,
               items: Iterable[str], threshold_policy: str | None = None) -> SweepPlan:
    """Expand the `--set` items into the grid and plan every point on every data set (all validated before
    anything runs). A run that two points share (a method or data set the swept key does not reach) is planned
    once."""
    datasets = [dataset] if isinstance(dataset, str) else list(dict.fromkeys(dataset))
    method_configs = {name: registry.get_method(name).config_class for name in method_names}
    data_configs = {name: registry.get_dataset(name).options_class for name in datasets}
    sweep = parse_sweep(items, method_configs, list(data_configs.values()))
    scope = data_scope(sweep, data_configs)
    points = sweep.points()
    seen: set[tuple] = set()
    specs: list[RunSpec] = []
    runs_per_point = [0] * len(points)
    for name in datasets:  # data set by data set, so each one's runs (and data groups) stay together
        for index, point in enumerate(points):
            assignments = {key: value for key, value in point.items() if name in scope.get(key, datasets)}
            if len(datasets) > 1:
                _check_data_options(name, assignments)
            fresh = [s for s in plan(method_names, name, list(seeds), preset, assignments, threshold_policy)
                     if _identity(s) not in seen]
            seen.update(map(_identity, fresh))
            specs += fresh
            runs_per_point[index] += len(fresh)
    return SweepPlan(sweep, points, specs, runs_per_point, datasets, scope)
