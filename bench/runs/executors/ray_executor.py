"""Runs on a Ray cluster: one task per run, with the resources its method declares (`Detector.resources`, `--set
ray.num_gpus=...` etc. override them; see bench.runs.executors.ray_settings).

Every task writes the same run folder the local executor would, so `--runs`, the data root and BENCH_CACHE must be
on storage that the workers share. The data is prepared once per data set before the grid fans out; a task only
opens the prepared image cache (a memmap), it never decodes or generates images. A task whose worker dies (killed,
out of memory, node lost) is retried by Ray up to `ray.max_retries` times and resumes from the run's last
checkpoint (the runner resumes a run folder whose lock was freed); a run that fails by its own error is recorded
as failed and never retried. Connects to `$RAY_ADDRESS` when set, otherwise starts a local Ray instance.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.core import registry
from bench.core.errors import BenchError
from bench.core.progress import Progress
from bench.data.adapter import PreparedData
from bench.runs.executors.ray_settings import RaySettings, parse_settings, task_options, unschedulable
from bench.runs.folder import read_record
from bench.runs.identity import run_dir
from bench.runs.plan import RunOutcome, RunSpec
from bench.runs.record import RecordError


@dataclasses.dataclass(frozen=True)
class SharedData:
    """Prepared data as a task receives it: everything but the images, which stay in the image cache on shared
    storage and are opened read-only (memmap) by path in the task."""

    prepared: PreparedData  # with an empty `images` array
    images_path: str | None  # the cache's images.npy; None: `images` travel inside (data not backed by a file)
    images: np.ndarray | None = None

    @classmethod
    def of(cls, prepared: PreparedData) -> SharedData:
        path = getattr(prepared.images, "filename", None)
        if path is None:
            return cls(prepared, None)
        empty = np.empty((0, *prepared.images.shape[1:]), dtype=np.uint8)
        return cls(dataclasses.replace(prepared, images=empty), str(Path(path).resolve()), None)

    def open(self) -> PreparedData:
        """The prepared data with its images opened from the cache (read-only; nothing is decoded)."""
        if self.images_path is None:
            return self.prepared
        try:
            images = np.load(self.images_path, mmap_mode="r")
        except OSError as exc:
            raise BenchError(f"the image cache {self.images_path} cannot be read on this Ray node ({exc.strerror}): "
                             "BENCH_CACHE must be on storage that every node shares") from None
        expected = (len(self.prepared.manifest), *self.prepared.images.shape[1:])
        if images.shape != expected:
            raise BenchError(f"the image cache {self.images_path} changed since the grid prepared it (shape "
                             f"{images.shape}, expected {expected}); run the command again")
        return dataclasses.replace(self.prepared, images=images)


def run_task(spec: RunSpec, data: SharedData, runs: str, device: str, force: bool, wait: bool,
             command: list[str]) -> RunOutcome:
    """The body of one Ray task: open the prepared data and execute the run (which resumes an interrupted one)."""
    from bench.runs.execute import execute

    return execute(spec, data.open(), Path(runs), device=device, force=force, wait=wait, command=command)


@dataclasses.dataclass
class _Submitted:
    spec: RunSpec
    folder: Path
    segments_before: int  # attempts the run folder recorded before this grid (a resumed run has some)


def _segment_count(folder: Path) -> int:
    try:
        return len(read_record(folder).segments)
    except (RecordError, OSError):
        return 0


def retry_note(spec: RunSpec, folder: Path, segments_before: int) -> str | None:
    """One line saying that a run was retried in this grid and why (from its run.json: an attempt of this grid
    that ended without finishing was followed by another); None when it was not."""
    try:
        record = read_record(folder)
    except (RecordError, OSError):
        return None
    attempts = record.segments[segments_before:]
    died = [s for s in attempts[:-1] if s.status in ("interrupted", "running")]
    if not died:
        return None
    where = "; ".join(f"process {s.pid} on {s.host} (started {s.started_at})" for s in died)
    resumed = (record.method_info or {}).get("training", {}).get("resumed_from")
    if resumed:
        how = f"resumed from its checkpoint at iteration {resumed}"
    elif record.status == "complete":
        how = "trained again from the start (the method keeps no training checkpoint)"
    else:
        how = "did not finish either"
    return (f"retried {spec.method} seed {spec.seed} on {spec.dataset} ({folder.name}): {len(died)} attempt(s) "
            f"ended without finishing, their worker gone (killed, out of memory or node lost): {where}; "
            f"the last attempt {how}, status {record.status}")


def _lost(item: _Submitted, exc: Exception, retries: int) -> RunOutcome:
    """The outcome of a task that returned no outcome: an error raised in the task outside the runner's record
    (not retried), or a worker that died on every attempt (the run.json stays resumable)."""
    from ray.exceptions import RayTaskError

    if isinstance(exc, RayTaskError):
        cause = getattr(exc, "cause", None) or exc  # the exception the task raised
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        return RunOutcome(item.spec, item.folder, "failed",
                          error=f"failed in its Ray task: {type(cause).__name__}: {first}")
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return RunOutcome(item.spec, item.folder, "failed",
                      error=f"Ray gave up after {1 + retries} attempt(s): {type(exc).__name__}: {first}; run the "
                            "same command again to resume from the run's last checkpoint")


def run_on_ray(specs: list[RunSpec], data: PreparedData | Callable[[RunSpec], PreparedData], runs: Path, *,
               device: str = "auto", force: bool = False, wait: bool = False, progress: Progress | None = None,
               command: list[str] | None = None, settings: Mapping[str, str] | None = None) -> list[RunOutcome]:
    """Submit every run as a Ray task and wait for all of them; outcomes come back in plan order. `data`: the
    prepared data every run uses (as for run_local), or a function giving each run its own (several data sets, or a
    sweep over `data.*` keys); each distinct data set travels to the cluster once. `settings`: the `ray.*` items of
    `--set` (bench.runs.executors.ray_settings)."""
    ray_settings = parse_settings(settings)  # bad values stop here, before Ray starts
    try:
        import ray
        from ray.exceptions import RayError
    except ImportError:
        raise BenchError("--executor ray needs Ray: pip install 'medad-bench[ray]'") from None
    progress = progress or Progress()
    shared = _share_data(specs, data if callable(data) else (lambda _spec: data))

    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {k: v for k, v in os.environ.items() if k.startswith(("BENCH_", "HF_"))}})
    options = _options_per_method(specs, ray_settings, device, ray)
    remote = ray.remote(run_task)
    refs = {id(data): ray.put(data) for data in {id(d): d for d, _ in shared.values()}.values()}  # once per data set
    runs = Path(runs).resolve()
    submitted: dict[Any, tuple[int, _Submitted]] = {}
    for index, spec in enumerate(specs):
        data, prepared = shared[index]
        folder = run_dir(runs, spec.dataset, spec.method, spec.run_id(prepared))
        item = _Submitted(spec, folder, _segment_count(folder))
        future = remote.options(**options[spec.method]).remote(spec, refs[id(data)], str(runs), device, force, wait,
                                                               command or [])
        submitted[future] = (index, item)

    outcomes: dict[int, RunOutcome] = {}
    pending = dict(submitted)
    with progress.task(f"{len(specs)} runs on Ray", total=len(specs)) as bar:
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            index, item = pending.pop(done[0])
            try:
                outcomes[index] = ray.get(done[0])
            except RayError as exc:  # the worker died on every attempt (or Ray failed): the run.json stays resumable
                outcomes[index] = _lost(item, exc, ray_settings.max_retries)
            bar.advance(1)
    for _, item in sorted(submitted.values(), key=lambda pair: pair[0]):
        note = retry_note(item.spec, item.folder, item.segments_before)
        if note:
            progress.log(note)
    return [outcomes[i] for i in range(len(specs))]


def _share_data(specs: list[RunSpec], prepared_for: Callable[[RunSpec], PreparedData]
                ) -> dict[int, tuple[SharedData, PreparedData]]:
    """Per run (by plan index): the data its task opens and the prepared data (for the run folder's name); one
    SharedData per distinct prepared data, so each data set travels to the cluster once."""
    by_data: dict[int, tuple[SharedData, PreparedData]] = {}
    out = {}
    for index, spec in enumerate(specs):
        prepared = prepared_for(spec)
        if id(prepared) not in by_data:
            by_data[id(prepared)] = (SharedData.of(prepared), prepared)
        out[index] = by_data[id(prepared)]
    return out


def _options_per_method(specs: list[RunSpec], settings: RaySettings, device: str, ray: Any
                        ) -> dict[str, dict[str, Any]]:
    """Ray task options for each method of the grid; a request no node could ever meet is a BenchError (Ray would
    wait for it forever)."""
    cluster_gpus = ray.cluster_resources().get("GPU", 0)
    nodes = [node.get("Resources", {}) for node in ray.nodes() if node.get("Alive")]
    options = {}
    for name in dict.fromkeys(spec.method for spec in specs):
        options[name] = task_options(registry.get_method(name).resources, settings, cluster_gpus=cluster_gpus,
                                     device=device)
        problem = unschedulable(options[name], nodes)
        if problem:
            raise BenchError(f"{name} on Ray {problem}; lower it with --set ray.num_cpus / ray.num_gpus / ray.memory")
    return options
