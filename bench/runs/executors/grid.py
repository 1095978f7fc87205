"""Runs a planned grid: each group of runs that needs the same data (data set and `data.*` overrides) has its data
prepared once, then the executor (local or Ray) runs every run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.core.errors import BenchError
from bench.core.progress import Progress
from bench.data.adapter import DatasetAdapter, PreparedData
from bench.data.selection import dataset_adapter
from bench.runs.plan import RunOutcome, RunSpec
from bench.runs.sweep import data_key

DataGroup = tuple[Mapping[str, str], list[RunSpec]]
Roots = Path | None | Mapping[str, Path]  # one folder for every data set (None: each resolves its own), or by name


def root_of(roots: Roots, dataset: str) -> Path | None:
    """The `--root` folder of `dataset` (None: the adapter looks in $BENCH_DATA_<NAME> and the config file)."""
    return roots.get(dataset) if isinstance(roots, Mapping) else roots


def make_adapter(dataset: str, roots: Roots, data_overrides: Mapping[str, str]) -> DatasetAdapter:
    """The adapter of one group of runs: its data set, folder and `data.*` options."""
    return dataset_adapter(dataset, root_of(roots, dataset), data_overrides)


def prepare_groups(groups: Sequence[DataGroup], roots: Roots, progress: Progress, *, rehash: bool = False
                   ) -> list[tuple[DatasetAdapter, PreparedData, list[RunSpec]]]:
    """Build and prepare each group's data (all of it before anything trains, so missing data stops the command
    early; every adapter is built before any data is decoded). Two groups whose different `data.*` settings gave
    the same data are named: that data set ignores the setting, or reads a folder written before with other
    settings."""
    prepared = []
    seen: dict[tuple[str, str, str], Mapping[str, str]] = {}
    adapters = [make_adapter(specs[0].dataset, roots, data_overrides) for data_overrides, specs in groups]
    for adapter, (data_overrides, specs) in zip(adapters, groups, strict=True):
        data = adapter.prepare(progress, rehash=rehash)
        identity = (data.dataset, data.split_id, data.images_id)
        if identity in seen:
            progress.log(f"warning: {data.dataset} with data settings {dict(data_overrides)} gave the same data as "
                         f"{dict(seen[identity])} (split {data.split_id[:8]}): the setting does not change this data "
                         "set's images or split here")
        seen.setdefault(identity, data_overrides)
        prepared.append((adapter, data, specs))
    return prepared



def check_threshold_policy(policy: str | None, data: PreparedData) -> None:
    """A BenchError when a requested val-* threshold policy meets a data set without a labelled validation split."""
    if not policy or not policy.startswith("val-"):
        return
    labels = set(data.manifest.loc[data.manifest["split"] == "val", "label"].tolist())
    if labels != {0, 1}:
        raise BenchError(f"--threshold {policy} needs a validation split with normal and abnormal images; "
                         f"{data.dataset} has {'none' if not labels else 'only one label'}: use "
                         "--threshold normal-quantile (the default without one)")


def run_grid(groups: Sequence[DataGroup], roots: Roots, runs: Path, *, executor: str = "local",
             device: str = "auto", force: bool = False, wait: bool = False, progress: Progress | None = None,
             command: list[str] | None = None, executor_settings: Mapping[str, str] | None = None
             ) -> tuple[list[RunOutcome], list[PreparedData]]:
    """Run every group's runs (groups of several data sets too: each group's data is prepared once, before any run
    starts); (outcomes in group order, each group's prepared data). `roots`: see `root_of`. `executor_settings`
    are the `ray.*` keys of `--set` (see bench.core.overrides.executor_settings)."""
    progress = progress or Progress()
    prepared = prepare_groups(groups, roots, progress, rehash=force)  # --force re-checks file contents too
    for _, data, specs in prepared:  # before any run folder: a policy the data cannot serve is bad input
        for spec in specs:
            check_threshold_policy(spec.threshold_policy, data)
    if executor == "ray":
        from bench.runs.executors.ray_executor import run_on_ray

        prepared_data = {data_key(specs[0]): data for _, data, specs in prepared}
        specs = [spec for _, _, group in prepared for spec in group]
        outcomes = run_on_ray(specs, lambda spec: prepared_data[data_key(spec)], runs, device=device, force=force,
                              wait=wait, progress=progress, command=command, settings=executor_settings or {})
    else:
        from bench.runs.executors.local import run_local

        outcomes = []
        for _, data, group in prepared:
            outcomes += run_local(group, data, runs, device=device, force=force, wait=wait, progress=progress,
                                  command=command)
    return outcomes, [data for _, data, _ in prepared]
