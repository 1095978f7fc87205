"""Reading run trees: every run folder under a runs folder, complete runs with readable scores, and the others
named with the reason they were left out (unreadable record, missing scores, failed, interrupted, still running)."""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import BenchError
from bench.runs.folder import RUN_FILE, SCORES_FILE, read_record
from bench.runs.lock import describe_holder, is_held
from bench.runs.record import RecordError, RunRecord
from bench.runs.resume_command import resume_command


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
