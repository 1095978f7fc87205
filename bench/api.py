"""bench's Python API: what the command line does, for notebooks and scripts. The CLI (bench.cli) parses its
arguments, calls these functions and prints; errors are the same `BenchError`s with the same messages.

    import bench

    results = bench.run(["pca", "padim"], "synthetic", seeds=(0, 1), preset="smoke",
                        settings={"data.n_test": 100, "n_components": [8, 16]})
    results.frame                                   # one row per run: method, setting, seed, status, auc, ap, ...
    print(results.table(format="md"))               # the report table of these runs
    bench.load_runs("results/runs")                 # every complete run under a runs folder, as a DataFrame

    data = bench.prepare("synthetic")
    detector = bench.create_detector("pca", "smoke", n_components=8)
    bench.evaluate(detector, data).metrics          # fits it (if it is not fitted) and scores the test split
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core import registry
from bench.core.device import resolve_device
from bench.core.errors import BenchError
from bench.core.overrides import (
    LIST_SEPARATOR,
    SEQUENCE_SEPARATOR,
    executor_settings,
    is_sequence_type,
    key_type,
)
from bench.core.progress import Progress
from bench.data.adapter import PreparedData
from bench.data.selection import DataSelection, dataset_adapter, select_datasets
from bench.metrics.table import METRICS
from bench.runs.executors.grid import make_adapter, run_grid
from bench.runs.folder import check_writable
from bench.runs.plan import RunOutcome, summarize
from bench.runs.sweep import SweepPlan, plan_sweep

DEFAULT_RUNS = Path("results/runs")


@dataclasses.dataclass(frozen=True)
class Plan:
    """The runs one call asks for, every name, preset and setting validated, nothing written or decoded yet."""

    grid: SweepPlan
    selection: DataSelection
    executor: str
    executor_settings: Mapping[str, str]

    def notes(self) -> list[str]:
        """What a grid over several data sets prints before it starts (each data set's folder, keys that reach
        only some data sets)."""
        return [*self.selection.describe(), *self.grid.notes()] if self.selection.several else []


@dataclasses.dataclass
class Results:
    """What `run` did: one outcome per planned run and the prepared data of each data set."""

    plan: Plan
    outcomes: list[RunOutcome]
    prepared: list[PreparedData]
    runs: Path

    @property
    def frame(self) -> pd.DataFrame:
        """One row per run: method, data set, configuration (its config id), the swept setting, seed, status,
        folder, error and one column per image metric (`auc`, `ap`, `f1`, ...; empty for failed runs)."""
        summary = summarize(self.outcomes)
        summary.insert(1, "dataset", [o.spec.dataset for o in self.outcomes])
        summary.insert(2, "configuration", [o.spec.config_id for o in self.outcomes])
        summary.insert(3, "setting", [self.plan.grid.label(o.spec) for o in self.outcomes])
        summary["folder"] = [str(o.folder) for o in self.outcomes]
        return summary[["method", "dataset", "configuration", "setting", "seed", "status", "folder", "error",
                        *METRICS]]

    @property
    def failed(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def table(self, format: str = "md", *, metrics: Sequence[str] | None = None, ci: bool = False) -> str:  # noqa: A002
        """The report table of these runs (as `bench report` prints it, one table per data set), in `format`:
        md, latex, csv or html."""
        from bench.report.collect import runs_frame
        from bench.report.report import ReportOptions, make_table, render_table

        folders = {str(o.folder) for o in self.outcomes}
        frame = runs_frame(self.runs, list(self.plan.grid.datasets))
        frame = frame[frame["folder"].isin(folders)]
        parts = []
        for dataset in self.plan.grid.datasets:
            options = ReportOptions(datasets=(dataset,), fmt=format, metrics=tuple(metrics or METRICS), ci=ci)
            options.check()
            parts.append(render_table(make_table(frame, options), options))
        return "\n\n".join(parts)


def _names(value: str | Sequence[str]) -> str:
    return value if isinstance(value, str) else ",".join(value)


def _value_text(value: Any) -> str:
    """One setting's value as `--set` text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(map(_value_text, value))
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def settings_items(settings: Mapping[str, Any] | Iterable[str] | None, method_configs: Mapping[str, type],
                   data_configs: Sequence[type]) -> list[str]:
    """`--set` items from a settings mapping: a list value is a sweep (its values joined as the grammar splits
    them), a tuple one value of a tuple field; strings pass as written. Items (`"key=value"`) pass unchanged."""
    if settings is None:
        return []
    if not isinstance(settings, Mapping):
        return list(settings)
    items = []
    for key, value in settings.items():
        if isinstance(value, list):
            separator = SEQUENCE_SEPARATOR if is_sequence_type(key_type(key, method_configs, data_configs)) \
                else LIST_SEPARATOR
            items.append(f"{key}={separator.join(map(_value_text, value))}")
        else:
            items.append(f"{key}={_value_text(value)}")
    return items


Roots = str | Path | Mapping[str, str | Path] | Sequence[str] | None


def _root_items(root: Roots) -> list[str] | None:
    """`--root` items: a folder, `{name: folder}`, or the items as the command line takes them."""
    if root is None:
        return None
    if isinstance(root, Mapping):
        return [f"{name}={path}" for name, path in root.items()]
    if isinstance(root, str | Path):
        return [str(root)]
    return [str(item) for item in root]


def plan(methods: str | Sequence[str], dataset: str | Sequence[str], *, seeds: Iterable[int] = (0,),
         preset: str = "paper", settings: Mapping[str, Any] | Iterable[str] | None = None,
         root: Roots = None, executor: str = "local",
         threshold: str | None = None) -> Plan:
    """Validate everything a run needs (names, presets, settings and their values, executor settings) and return
    the grid: method x seed x setting point x data set. Writes and decodes nothing."""
    if executor not in ("local", "ray"):
        raise BenchError(f"--executor must be local or ray, got {executor!r}")
    names = registry.resolve_method_names(_names(methods))
    selection = select_datasets(_names(dataset), _root_items(root))
    method_configs = {n: registry.get_method(n).config_class for n in names}
    data_configs = [registry.get_dataset(n).options_class for n in selection.names]
    items = settings_items(settings, method_configs, data_configs)
    ray_settings, items = executor_settings(items, executor)  # ray.*: not the runs' identity
    if ray_settings:
        from bench.runs.executors.ray_settings import parse_settings

        parse_settings(ray_settings)  # a bad ray.* value stops before any data is decoded
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if not seeds:
        raise BenchError("--seeds is empty")
    bad = [seed for seed in seeds if not 0 <= seed < 2**32]  # numpy and scikit-learn take 0 .. 2**32 - 1
    if bad:
        raise BenchError(f"--seeds must lie in 0 .. {2**32 - 1} (numpy's seed range), got {bad[0]}")
    grid = plan_sweep(names, selection.names, seeds, preset, items, threshold)
    return Plan(grid, selection, executor, ray_settings)


def dry_run(planned: Plan, device: str = "auto", console: Any = None) -> list[Any]:
    """Print the planned runs with time, memory and disk estimates (a few timed steps each on random images);
    returns the estimates. Nothing is decoded or written."""
    from rich.console import Console

    from bench.runs.dry_run import dry_run as print_estimates

    return print_estimates([(make_adapter(specs[0].dataset, planned.selection.roots, data), specs)
                            for data, specs in planned.grid.groups()], device, console or Console())


def execute(planned: Plan, *, runs: str | Path = DEFAULT_RUNS, device: str = "auto", force: bool = False,
            wait: bool = False, progress: Progress | None = None, command: list[str] | None = None) -> Results:
    """Run a plan: prepare each data set once, then every run (skipped when complete, resumed when interrupted,
    a failure recorded in its folder, not raised)."""
    resolve_device(device)
    if planned.selection.several:
        planned.selection.check_roots()  # every folder before any data set is decoded
    runs = Path(runs)
    check_writable(runs)
    outcomes, prepared = run_grid(planned.grid.groups(), planned.selection.roots, runs, executor=planned.executor,
                                  device=device, force=force, wait=wait, progress=progress, command=command,
                                  executor_settings=planned.executor_settings)
    return Results(planned, outcomes, prepared, runs)


def run(methods: str | Sequence[str], dataset: str | Sequence[str], *, seeds: Iterable[int] = (0,),
        preset: str = "paper", settings: Mapping[str, Any] | Iterable[str] | None = None,
        root: Roots = None, runs: str | Path = DEFAULT_RUNS,
        executor: str = "local", device: str = "auto", force: bool = False, wait: bool = False,
        threshold: str | None = None, progress: Progress | None = None) -> Results:
    """Train every method on each data set for every seed and setting, score the test split and write one run
    folder each under `runs`; `bench run` with the same arguments. `methods`: names or "all"; `dataset`: one
    name, several, or "all-real"; `settings`: `{"key": value}` as `--set key=value` (a list value is a sweep,
    `"sagan.acm"` one method's key, `"data.anomaly_ratio"` the data set's); `root`: the data folder, or
    `{name: folder}` per data set."""
    planned = plan(methods, dataset, seeds=seeds, preset=preset, settings=settings, root=root, executor=executor,
                   threshold=threshold)
    command = ["bench", *sys.argv[1:]] if Path(sys.argv[0]).name == "bench" else None
    return execute(planned, runs=runs, device=device, force=force, wait=wait, progress=progress, command=command)


def load_runs(paths: str | Path | Iterable[str | Path], datasets: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per complete run under one or several runs folders: identity, configuration and metrics. Every
    run folder left out (unreadable, failed, interrupted, running) is named in a warning."""
    from bench.report.collect import runs_frame

    return runs_frame(paths, list(datasets) if datasets else None)


def prepare(dataset: str, root: str | Path | None = None, settings: Mapping[str, Any] | None = None,
            progress: Progress | None = None, *, rehash: bool = False) -> PreparedData:
    """Decode and cache a data set (once; later calls read the cache): its manifest, split identity and images.
    `rehash`: hash every file's bytes and decode again those that changed (`bench data prepare --rehash`)."""
    options = {k: _value_text(v) for k, v in (settings or {}).items()}
    return dataset_adapter(dataset, root, options).prepare(progress or Progress(), rehash=rehash)


def create_detector(name: str, preset: str = "paper", *, seed: int = 0, device: str = "auto",
                    workdir: str | Path | None = None, dataset: str | None = None, **settings: Any) -> Any:
    """A detector of method `name` with its `preset` and `settings` (field values, typed or as text)."""
    cls = registry.get_method(name)
    config = cls.preset(preset, {k: _value_text(v) if isinstance(v, bool | tuple) else v for k, v in settings.items()},
                        dataset=dataset)
    return cls(config, seed=seed, device=device, workdir=None if workdir is None else Path(workdir))


def evaluate(detector: Any, data: PreparedData, *, threshold: str | None = None) -> Any:
    """Fit `detector` on `data`'s training split (unless it is fitted) and evaluate it on the test split: an
    Evaluation with `metrics`, `ci95`, `scores` (a DataFrame), `sample_maps` and `localisation`. Writes nothing
    beyond the detector's own work folder."""
    from bench.runs.evaluate import evaluate_detector, evaluation_data, fit_detector

    split = evaluation_data(data, detector.uses_unlabeled, threshold)
    if not detector.fitted_:
        fit_detector(detector, split)
    return evaluate_detector(detector, split, data, seed=detector.seed)
