"""Plans the grid (method x dataset x seed) and executes each run into its run folder.

One run: prepare data -> detector.fit -> score val/held-out/test -> metrics -> scores.parquet + run.json.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import os
import platform
import shlex
import shutil
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import registry
from bench.config import config_to_dict, route_overrides
from bench.data.adapter import PreparedData
from bench.detector import Detector, ImageSet, TrainData
from bench.device import resolve_device, seed_everything
from bench.errors import BenchError
from bench.forced_rerun import staging_folder, swap_in
from bench.metric_table import METRICS
from bench.metrics import ThresholdPolicy, bootstrap_ci, evaluate
from bench.os_errors import FULL
from bench.progress import Progress
from bench.provenance import device_info, git_commit, package_versions, peak_memory_mb
from bench.record import DataInfo, RecordError, RunRecord, Segment
from bench.run_lock import LOCK_FILE, RunLock, RunLocked
from bench.store import (
    RUN_FILE,
    SCORES_FILE,
    atomic_write,
    atomic_write_parquet,
    config_hash,
    read_record,
    run_dir,
    run_id,
    write_record,
)

N_SAMPLE_MAPS = 8  # per class, saved for qualitative figures


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
        """`<preset>[-<hash of the overrides>]`: what the seeds of one configuration share, on any data."""
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


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run: the run is recorded as interrupted; `message` says what was saved and how
    to resume."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def plan(method_names: list[str], dataset: str, seeds: list[int], preset: str, assignments: Mapping[str, str],
         threshold_policy: str | None = None) -> list[RunSpec]:
    """Validate names, presets and `--set` keys and values now (before anything trains) and return the runs."""
    classes = {name: registry.get_method(name) for name in method_names}
    adapter = registry.get_dataset(dataset)
    per_method, data_overrides = route_overrides(assignments, {n: c.config_class for n, c in classes.items()},
                                                 adapter.options_class)
    adapter.make_options(data_overrides)
    for name, cls in classes.items():
        cls.preset(preset, per_method[name])
    if threshold_policy:
        ThresholdPolicy.parse(threshold_policy)
    return [RunSpec(name, dataset, seed, preset, per_method[name], data_overrides, threshold_policy)
            for seed in seeds for name in method_names]


def default_policy(has_val: bool) -> ThresholdPolicy:
    return ThresholdPolicy.parse("val-f1" if has_val else "normal-quantile:0.95")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def execute(spec: RunSpec, prepared: PreparedData, runs_root: Path, *, device: str = "auto", force: bool = False,
            wait: bool = False, progress: Progress | None = None, command: list[str] | None = None) -> RunOutcome:
    """Do one run into its folder, holding the folder's lock. A complete run is skipped unless `force`; a run
    another process holds is "busy" (or, `wait`, waited for); an interrupted one resumes; a failure is recorded,
    not raised. Ctrl-C / SIGTERM (as KeyboardInterrupt) records the run as interrupted and raises RunInterrupted."""
    folder = run_dir(runs_root, spec.dataset, spec.method, spec.run_id(prepared))
    progress = progress or Progress()
    try:
        lock = RunLock(folder, wait=wait)
        lock.__enter__()
    except RunLocked as exc:
        return RunOutcome(spec, folder, "busy", error=f"being run by {exc.holder} (--wait waits for it)")
    except PermissionError:
        raise BenchError(f"cannot write the run folder {folder}: permission denied; make it writable or choose "
                         "another --runs folder") from None
    try:
        return _execute_locked(spec, prepared, folder, device, force, progress, command or [])
    finally:
        lock.__exit__(None, None, None)


def _previous_record(folder: Path) -> RunRecord | None:
    try:
        return read_record(folder)
    except RecordError:
        return None


def _execute_locked(spec: RunSpec, prepared: PreparedData, folder: Path, device: str, force: bool,
                    progress: Progress, command: list[str]) -> RunOutcome:
    previous = _previous_record(folder)
    if previous is not None and previous.status == "complete" and (folder / SCORES_FILE).is_file() and not force:
        return RunOutcome(spec, folder, "skipped", previous.metrics)
    workdir = folder  # where this attempt writes: the run folder, or beside the finished result (--force)
    if force:
        staging = staging_folder(folder)
        if (previous is not None and previous.status == "complete") or staging.is_dir():
            workdir = staging  # the finished result stays until this attempt is complete (issue 28)
            staging.mkdir(exist_ok=True)
            previous = _previous_record(staging)  # an earlier forced attempt, killed: resumed
        else:
            for child in folder.iterdir():
                if child.name != LOCK_FILE:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            previous = None
    segments = list(previous.segments) if previous is not None else []
    for old in segments:
        if old.status == "running":  # the process that wrote it is gone (we hold the lock)
            old.status = "interrupted"
    if segments:
        progress.log(f"resuming {folder.name} ({len(segments)} earlier attempt(s), last {segments[-1].status})")
    segment = Segment(started_at=_now(), pid=os.getpid(), host=platform.node())
    record = RunRecord(
        run_id=folder.name, method=spec.method, dataset=spec.dataset, seed=spec.seed, preset=spec.preset,
        config_id=spec.config_id, overrides=dict(spec.overrides), data_overrides=dict(spec.data_overrides),
        threshold_policy=spec.threshold_policy, started_at=(segments[0].started_at if segments else segment.started_at),
        segments=[*segments, segment], command=command, versions=package_versions(), git=git_commit(),
        data=DataInfo(split_id=prepared.split_id, images_id=prepared.images_id, image_size=prepared.size,
                      channels=prepared.channels, root=prepared.root, options=prepared.options),
    )
    write_record(workdir, record)
    clock = _FitClock()
    try:
        _train_and_score(spec, prepared, workdir, device, progress, record, clock)
        record.status = "complete"
    except KeyboardInterrupt as exc:
        _close(record, segment, "interrupted", clock)
        record.error = "interrupted (Ctrl-C or SIGTERM); run the same command again to resume"
        write_record(workdir, record)
        message = _interrupted_message(spec, workdir, command, getattr(exc, "saved", None))
        if workdir != folder:
            message += f" (the earlier complete result in {folder} is kept until this attempt completes)"
        raise RunInterrupted(message) from None
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its traceback, never as NaN metrics
        record.status, record.error, record.traceback = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
        if isinstance(exc, OSError) and exc.errno in FULL:  # a full disk is the user's to fix: one line (main)
            _close(record, segment, "failed", clock)
            _record_on_full_disk(workdir, record)
            raise
    _close(record, segment, record.status, clock)
    try:
        write_record(workdir, record)
    except OSError as exc:
        if exc.errno in FULL:  # the record says failed if that much still fits (the temp file is gone again)
            record.status, record.error = "failed", f"disk full writing {workdir / 'run.json'}"
            _record_on_full_disk(workdir, record)
        raise
    if workdir != folder and record.status == "complete":
        swap_in(workdir, folder)
    elif workdir != folder:
        record.error = f"{record.error} (the earlier complete result is kept; this attempt: {workdir / 'run.json'})"
    return RunOutcome(spec, folder, record.status, record.metrics, record.error)


def _record_on_full_disk(workdir: Path, record: RunRecord) -> None:
    """Record a run that failed for a full disk: atomically if that fits, else in place (truncating run.json first
    frees its blocks), so it never stays "running"."""
    try:
        write_record(workdir, record)
    except OSError:
        with contextlib.suppress(OSError), open(workdir / RUN_FILE, "w") as handle:
            handle.write(json.dumps(record.to_dict(), default=str))


class _FitClock:
    """Seconds spent in `fit` so far in this segment (also when it is cut short)."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.seconds: float | None = None

    def elapsed(self) -> float | None:
        if self.seconds is not None:
            return self.seconds
        return None if self.started is None else time.perf_counter() - self.started


def _close(record: RunRecord, segment: Segment, status: str, clock: _FitClock) -> None:
    segment.status, segment.finished_at, segment.fit_s = status, _now(), clock.elapsed()
    record.status, record.finished_at = status, segment.finished_at
    if record.fit_seconds is not None:
        record.timings["fit_s"] = record.fit_seconds


def _interrupted_message(spec: RunSpec, folder: Path, command: list[str], checkpoint: str | None) -> str:
    saved = ["run.json (status: interrupted)"]
    if checkpoint:
        saved.append(f"{checkpoint} (training resumes there)")
    elif (folder / "checkpoints").is_dir():
        saved.append("its last training checkpoint (training resumes there)")
    resume = shlex.join(command) if command else "the same bench run command"
    return f"interrupted {spec.method} seed {spec.seed}: saved {' and '.join(saved)} in {folder}; resume with: {resume}"


def _train_and_score(spec: RunSpec, prepared: PreparedData, folder: Path, device: str, progress: Progress,
                     record: RunRecord, clock: _FitClock) -> None:
    cls: type[Detector] = registry.get_method(spec.method)
    config = cls.preset(spec.preset, spec.overrides, dataset=spec.dataset)
    torch_device = resolve_device(device)
    seed_everything(spec.seed)
    detector = cls(config, seed=spec.seed, device=torch_device, workdir=folder, progress=progress)

    val = prepared.split("val")
    has_val = len(val) > 0 and len(set(val.labels.tolist())) == 2
    policy = ThresholdPolicy.parse(spec.threshold_policy) if spec.threshold_policy else default_policy(has_val)
    normal = prepared.split("train_normal")
    held_out = None
    if policy.name == "normal-quantile":
        held_index = prepared.held_out_normals()
        held_out = normal.subset(held_index)
        normal = normal.subset(np.setdiff1d(np.arange(len(normal)), held_index))
    unlabeled = prepared.split("train_unlabeled").without_labels() if cls.uses_unlabeled else None
    if unlabeled is not None and len(unlabeled) == 0:
        unlabeled = None
    train = TrainData(normal, unlabeled)

    clock.started = time.perf_counter()
    detector.fit(train, val=val if has_val else None)
    clock.seconds = time.perf_counter() - clock.started

    start = time.perf_counter()
    test = prepared.split("test")
    test_scores = detector.score(test)
    score_seconds = time.perf_counter() - start
    val_scores = detector.score(val) if has_val else None
    held_scores = detector.score(held_out) if held_out is not None else None

    metrics = evaluate(test.labels, test_scores, policy,
                       val=(val.labels, val_scores) if val_scores is not None else None, normal_scores=held_scores)
    ci = bootstrap_ci(test.labels, test_scores, threshold=metrics["threshold"], seed=spec.seed)
    _write_scores(folder, {"test": (test, test_scores), "val": (val, val_scores),
                           "held_out_normal": (held_out, held_scores)})
    detector.save(folder / "detector.pt")
    _save_sample_maps(detector, test, folder)
    from bench.localisation_run import score_localisation  # pixel metrics of the maps (issue 15)

    record.localisation = score_localisation(detector, test, prepared.localisation, folder, seed=spec.seed)
    record.config = config_to_dict(config)
    record.method_info = {"uses_unlabeled": cls.uses_unlabeled, **detector.run_info()}
    record.selection = getattr(config, "selection", "last")
    record.data.counts = {k: {str(lbl): n for lbl, n in v.items()} for k, v in prepared.counts().items()}
    record.data.n_train_normal = len(normal)
    record.data.n_train_unlabeled = 0 if unlabeled is None else len(unlabeled)
    record.data.n_held_out_normal = 0 if held_out is None else len(held_out)
    record.threshold_policy, record.test_oracle = str(policy), policy.uses_test
    record.metrics, record.ci95 = metrics, {k: list(v) for k, v in ci.items()}
    record.timings = {"score_test_s": score_seconds, "test_images_per_s": len(test) / max(score_seconds, 1e-9)}
    record.memory, record.device = peak_memory_mb(torch_device), device_info(torch_device, requested=device)


def _write_scores(folder: Path, parts: Mapping[str, tuple[ImageSet | None, np.ndarray | None]]) -> None:
    frames = [pd.DataFrame({"id": images.ids, "label": images.labels, "split": split, "score": scores})
              for split, (images, scores) in parts.items() if images is not None and scores is not None]
    atomic_write_parquet(folder / SCORES_FILE, pd.concat(frames, ignore_index=True))


def _save_sample_maps(detector: Detector, test: ImageSet, folder: Path) -> None:
    """A few normal and abnormal test images with their anomaly maps, for qualitative figures."""
    picks = np.concatenate([np.flatnonzero(test.labels == label)[:N_SAMPLE_MAPS] for label in (0, 1)])
    sample = test.subset(picks)
    maps = detector.anomaly_maps(sample)
    if maps is None:
        return
    arrays = {"ids": sample.ids, "labels": sample.labels, "images": sample.images,
              "maps": np.asarray(maps, dtype=np.float32)}
    restored = detector.restored_images(sample)
    if restored is not None:
        arrays["restored"] = np.asarray(restored, dtype=np.uint8)

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    atomic_write(folder / "sample_maps.npz", write)


def summarize(outcomes: list[RunOutcome]) -> pd.DataFrame:
    """One row per run: method, seed, status and the main metrics."""
    rows = []
    for outcome in outcomes:
        row = {"method": outcome.spec.method, "seed": outcome.spec.seed, "status": outcome.status}
        row.update({k: (outcome.metrics or {}).get(k) for k in METRICS})
        row["error"] = outcome.error
        rows.append(row)
    return pd.DataFrame(rows)

