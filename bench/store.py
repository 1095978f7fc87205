"""The results store: run folders `<runs>/<dataset>/<method>/<run-id>/` with run.json and scores.parquet.

Every file is written atomically (temp file + rename). run.json is written first with status "running" and
last with "complete" (or "failed" with the traceback), so a half-written run is never taken for a complete one.
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import shlex
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from bench.errors import BenchError
from bench.record import RecordError, RunRecord
from bench.resume_command import resume_command
from bench.run_lock import describe_holder, is_held

_UMASK = os.umask(0)
os.umask(_UMASK)
RUN_FILE = "run.json"
SCORES_FILE = "scores.parquet"


def atomic_write(path: Path, write: Any) -> None:
    """Call `write(temp_path)`, then rename the temp file onto `path` (removed again on failure)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    try:
        write(Path(temp))
        os.chmod(temp, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are meant to be shared
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` so readers see the old file or the new one, never a partial one."""
    atomic_write(Path(path), lambda temp: temp.write_text(text))


def atomic_write_json(path: Path, data: Mapping[str, Any]) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def atomic_torch_save(obj: Any, path: Path) -> None:
    import torch  # here, not at the top: reports read the store and must not pay for importing torch

    def save(temp: Path) -> None:
        try:
            torch.save(obj, temp)
        except RuntimeError as exc:  # torch reports a full disk as "unexpected pos ..." (issue 28)
            if "unexpected pos" in str(exc) or "file write failed" in str(exc):
                raise OSError(errno.ENOSPC, "No space left on device", str(path)) from None
            raise

    atomic_write(Path(path), save)


def atomic_write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(Path(path), lambda temp: frame.to_parquet(temp, index=False))


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


def write_record(folder: Path, record: RunRecord) -> None:
    """run.json, atomically."""
    atomic_write_json(Path(folder) / RUN_FILE, record.to_dict())


def read_record(folder: Path) -> RunRecord:
    """The run record of `folder`; a RecordError names the file and what is wrong."""
    return RunRecord.read(Path(folder) / RUN_FILE)


def read_run(folder: Path) -> dict[str, Any] | None:
    """The run.json of `folder` as a dict (migrated to the current schema), or None when it cannot be read."""
    try:
        return read_record(folder).to_dict()
    except RecordError:
        return None


def is_complete(folder: Path) -> bool:
    record = read_run(folder)
    return bool(record) and record.get("status") == "complete" and (Path(folder) / SCORES_FILE).is_file()


def live_status(folder: Path, record: RunRecord) -> str:
    """The record's status, with "running" checked against the folder's lock: a run whose process is gone
    (killed, machine lost) is "interrupted"."""
    if record.status == "running" and not is_held(folder):
        return "interrupted"
    return record.status


@dataclasses.dataclass
class Skipped:
    """A run folder left out of a report, and why."""

    folder: Path
    reason: str

    def __str__(self) -> str:
        return f"skipped {self.folder}: {self.reason}"


@dataclasses.dataclass
class Scan:
    """The complete runs under some run trees, and every run folder left out with its reason."""

    runs: list[tuple[Path, RunRecord]]
    skipped: list[Skipped]


def scan_runs(runs_root: Path, datasets: list[str] | None = None) -> Scan:
    """Every run folder under `runs_root` (optionally only some data sets): complete runs whose scores can be
    read, and the others named with the reason (unreadable record, missing scores, failed, interrupted,
    still running)."""
    runs_root = Path(runs_root)
    if not runs_root.is_dir():
        raise BenchError(f"no runs folder {runs_root}: pass --runs PATH (the folder `bench run --runs` wrote to)")
    runs: list[tuple[Path, RunRecord]] = []
    skipped: list[Skipped] = []
    for folder in sorted({p.parent for p in runs_root.glob(f"*/*/*/{RUN_FILE}")}
                         | {p for p in runs_root.glob("*/*/*") if p.is_dir()}):
        if datasets is not None and folder.parent.parent.name not in datasets:
            continue
        reason = None
        try:
            record = read_record(folder)
        except RecordError as exc:
            if not (folder / RUN_FILE).exists() and all(p.name.startswith(".") for p in folder.iterdir()):
                continue  # nothing but a lock or temp files: a run that never started
            skipped.append(Skipped(folder, str(exc).replace(str(folder / RUN_FILE) + ": ", "")))
            continue
        status = live_status(folder, record)
        if status == "complete":
            reason = _scores_problem(folder / SCORES_FILE)
        elif status == "failed":
            reason = f"failed ({record.error})"
        elif status == "interrupted":
            resume = resume_command(record.command, runs_root) if record.command else None  # where it was found
            reason = "interrupted" + (f"; resume with: {shlex.join(resume)}" if resume else "")
        else:
            reason = f"still running ({describe_holder(folder)})"
        if reason:
            skipped.append(Skipped(folder, reason))
        else:
            runs.append((folder, record))
    return Scan(runs, skipped)


def _scores_problem(path: Path) -> str | None:
    """Why a scores file cannot be used (None when its footer reads)."""
    if not path.is_file():
        return f"complete, but {SCORES_FILE} is missing"
    try:
        import pyarrow.parquet as pq

        pq.read_metadata(path)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is named, whatever the reader says
        return f"{SCORES_FILE} is unreadable ({type(exc).__name__})"
    return None


def iter_runs(runs_root: Path, datasets: list[str] | None = None) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(folder, record as a dict) of every complete, readable run under `runs_root`."""
    for folder, record in scan_runs(runs_root, datasets).runs:
        yield folder, record.to_dict()


def load_scores(folder: Path) -> pd.DataFrame:
    """The scores table of a run: id, label, split, score."""
    return pd.read_parquet(Path(folder) / SCORES_FILE)


def check_writable(runs_root: Path) -> None:
    """A clear error when the output folder cannot be created or written."""
    runs_root = Path(runs_root)
    try:
        runs_root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=runs_root, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise BenchError(f"cannot write to the runs folder {runs_root}: {exc.strerror or exc}; "
                         "choose another with --runs PATH") from None
