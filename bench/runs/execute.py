"""Doing one run into its folder: the folder's lock, the record's life (running -> complete | failed | interrupted,
one segment per attempt), the run step (bench.runs.evaluate) and its results written through `RunFolder`."""

from __future__ import annotations

import datetime as dt
import os
import platform
import shlex
import time
import traceback
from pathlib import Path
from typing import Any

from bench.core import registry
from bench.core.config import config_to_dict, differing_values
from bench.core.detector import Detector
from bench.core.device import resolve_device, seed_everything
from bench.core.errors import BenchError
from bench.core.interrupts import RunInterrupted
from bench.core.os_errors import FULL
from bench.core.progress import Progress
from bench.data.adapter import PreparedData
from bench.runs.evaluate import evaluate_detector, evaluation_data, fit_detector
from bench.runs.folder import RunFolder
from bench.runs.forced_rerun import staging_folder, swap_in
from bench.runs.identity import run_dir
from bench.runs.lock import RunLock, RunLocked
from bench.runs.plan import RunOutcome, RunSpec
from bench.runs.provenance import device_info, git_commit, package_versions, peak_memory_mb
from bench.runs.record import DataInfo, RunRecord, Segment


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def execute(spec: RunSpec, prepared: PreparedData, runs_root: Path, *, device: str = "auto", force: bool = False,
            wait: bool = False, progress: Progress | None = None, command: list[str] | None = None) -> RunOutcome:
    """Do one run into its folder, holding the folder's lock. A complete run is skipped unless `force`; a run
    another process holds is "busy" (or, `wait`, waited for); an interrupted one resumes; a failure is recorded,
    not raised. Ctrl-C / SIGTERM (as KeyboardInterrupt) records the run as interrupted and raises RunInterrupted."""
    progress = progress or Progress()
    folder, earlier = locate_run_folder(runs_root, spec, prepared)
    if earlier:
        progress.log(earlier)
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


def _execute_locked(spec: RunSpec, prepared: PreparedData, folder: Path, device: str, force: bool,
                    progress: Progress, command: list[str]) -> RunOutcome:
    run_folder = RunFolder(folder)
    previous = run_folder.previous_record()
    if previous is not None and run_folder.is_complete() and not force:
        changed = changed_settings(previous.config, spec)
        if not changed:
            return RunOutcome(spec, folder, "skipped", previous.metrics)
        progress.log(f"{spec.method} seed {spec.seed}: preset {spec.preset!r} has changed since {folder.name} ran "
                     f"({changed}); running it again (the earlier result stays until this run completes)")
        force = True
    attempt = run_folder  # where this attempt writes: the run folder, or beside the finished result (--force)
    if force:
        staging = staging_folder(folder)
        if (previous is not None and previous.status == "complete") or staging.is_dir():
            attempt = RunFolder(staging)  # the finished result stays until this attempt is complete
            staging.mkdir(exist_ok=True)
            previous = attempt.previous_record()  # an earlier forced attempt, killed: resumed
        else:
            run_folder.clear()
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
    attempt.write_record(record)
    clock = _FitClock()
    try:
        _train_and_score(spec, prepared, attempt, device, progress, record, clock)
        record.status = "complete"
    except KeyboardInterrupt as exc:
        _close(record, segment, "interrupted", clock)
        record.error = "interrupted (Ctrl-C or SIGTERM); run the same command again to resume"
        attempt.write_record(record)
        message = _interrupted_message(spec, attempt.path, command, getattr(exc, "saved", None))
        if attempt is not run_folder:
            message += f" (the earlier complete result in {folder} is kept until this attempt completes)"
        raise RunInterrupted(message) from None
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its traceback, never as NaN metrics
        record.status, record.error, record.traceback = "failed", f"{type(exc).__name__}: {exc}", traceback.format_exc()
        if isinstance(exc, OSError) and exc.errno in FULL:  # a full disk is the user's to fix: one line (main)
            _close(record, segment, "failed", clock)
            attempt.write_record_on_full_disk(record)
            raise
    _close(record, segment, record.status, clock)
    try:
        attempt.write_record(record)
    except OSError as exc:
        if exc.errno in FULL:  # the record says failed if that much still fits (the temp file is gone again)
            record.status, record.error = "failed", f"disk full writing {attempt.record_path}"
            attempt.write_record_on_full_disk(record)
        raise
    if attempt is not run_folder and record.status == "complete":
        swap_in(attempt.path, folder)
    elif attempt is not run_folder:
        record.error = f"{record.error} (the earlier complete result is kept; this attempt: {attempt.record_path})"
    return RunOutcome(spec, folder, record.status, record.metrics, record.error)


def changed_settings(recorded: dict[str, Any] | None, spec: RunSpec) -> str:
    """The settings whose value differs between a run's recorded config and what `spec` resolves to now (a preset
    changed by a newer bench: the folder name, preset plus overrides, would hide it), e.g. "image_size 64 -> 96";
    empty when none. Settings only one side has (an option added or removed since) are not compared."""
    if not recorded:
        return ""
    cls = registry.get_method(spec.method)
    current = config_to_dict(cls.preset(spec.preset, spec.overrides, dataset=spec.dataset))
    return ", ".join(f"{key} {old!r} -> {new!r}" for key, (old, new) in differing_values(recorded, current).items())


def locate_run_folder(runs_root: Path, spec: RunSpec, prepared: PreparedData) -> tuple[Path, str | None]:
    """The folder of `spec`'s run: its own when it exists; else one an earlier bench wrote for the same settings
    spelled otherwise (the id it computed from the settings' text, or any folder of the same method, preset, seed
    and data whose record's settings parse to the same values), so a run done before is found, not repeated; else
    its own, new. Returns (folder, a line saying which earlier folder was found, or None)."""
    folder = run_dir(runs_root, spec.dataset, spec.method, spec.run_id(prepared))
    if folder.exists():
        return folder, None
    suffix = f"-seed{spec.seed}-{prepared.split_id[:8]}-{prepared.images_id[:6]}"
    legacy = folder.parent / f"{spec.legacy_config_id}{suffix}"
    others = sorted(p for p in folder.parent.glob(f"{spec.preset}-*{suffix}") if p != legacy)
    for candidate in [legacy, *others]:
        record = RunFolder(candidate).previous_record() if candidate.is_dir() else None
        if record is None or record.preset != spec.preset:
            continue
        if _same_configuration(record, spec):
            return candidate, (f"{spec.method} seed {spec.seed}: the same settings ran before as {candidate.name} "
                               "(written by an earlier bench, settings spelled otherwise); using that folder")
    return folder, None


def _same_configuration(record: RunRecord, spec: RunSpec) -> bool:
    """Whether `record` is a run of `spec`'s configuration. The record keeps the threshold policy it applied, not
    whether it was asked for; its config id tells which."""
    for requested in dict.fromkeys((None, record.threshold_policy)):
        earlier = RunSpec(spec.method, spec.dataset, spec.seed, record.preset, record.overrides,
                          record.data_overrides, requested)
        try:
            if record.config_id not in (earlier.legacy_config_id, earlier.config_id):
                continue
            return earlier.config_id == spec.config_id
        except BenchError:  # settings this version no longer reads: another configuration
            return False
    return False


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


def _train_and_score(spec: RunSpec, prepared: PreparedData, folder: RunFolder, device: str, progress: Progress,
                     record: RunRecord, clock: _FitClock) -> None:
    """Build the detector, train and evaluate it (bench.runs.evaluate), write its results and fill in `record`."""
    cls: type[Detector] = registry.get_method(spec.method)
    config = cls.preset(spec.preset, spec.overrides, dataset=spec.dataset)
    torch_device = resolve_device(device)
    seed_everything(spec.seed)
    detector = cls(config, seed=spec.seed, device=torch_device, workdir=folder.path, progress=progress)
    data = evaluation_data(prepared, cls.uses_unlabeled, spec.threshold_policy)

    clock.started = time.perf_counter()
    clock.seconds = fit_detector(detector, data)
    result = evaluate_detector(detector, data, prepared, seed=spec.seed)

    folder.write_scores(result.scores)
    folder.save_detector(detector)
    if result.sample_maps is not None:
        folder.write_sample_maps(result.sample_maps)
    record.localisation = result.localisation
    record.config = config_to_dict(config)
    record.method_info = {"uses_unlabeled": cls.uses_unlabeled, **detector.run_info()}
    record.selection = getattr(config, "selection", "last")
    record.data.counts = {k: {str(lbl): n for lbl, n in v.items()} for k, v in prepared.counts().items()}
    record.data.n_train_normal = len(data.train.normal)
    record.data.n_train_unlabeled = 0 if data.train.unlabeled is None else len(data.train.unlabeled)
    record.data.n_held_out_normal = 0 if data.held_out is None else len(data.held_out)
    record.threshold_policy, record.test_oracle = str(result.policy), result.policy.uses_test
    record.metrics, record.ci95 = result.metrics, result.ci95
    record.timings = dict(result.timings)
    record.memory, record.device = peak_memory_mb(torch_device), device_info(torch_device, requested=device)
