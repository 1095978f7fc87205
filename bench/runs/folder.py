"""A run folder `<runs>/<dataset>/<method>/<run-id>/` and its files. `RunFolder` is the one writer of each file the
run step leaves there (run.json, scores.parquet, sample_maps.npz, detector.pt), every one written atomically;
a method's own checkpoints and logs live beside them in the same folder (its work folder)."""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bench.core.errors import BenchError
from bench.core.files import atomic_write, atomic_write_json, atomic_write_parquet
from bench.runs.lock import LOCK_FILE
from bench.runs.record import RecordError, RunRecord

if TYPE_CHECKING:  # the folder is read by reports, which never import torch
    from bench.core.detector import Detector

RUN_FILE = "run.json"
SCORES_FILE = "scores.parquet"
SAMPLE_FILE = "sample_maps.npz"
DETECTOR_FILE = "detector.pt"


class RunFolder:
    """One run's folder: where each of its files lives, and the only code that writes them."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def record_path(self) -> Path:
        return self.path / RUN_FILE

    @property
    def scores_path(self) -> Path:
        return self.path / SCORES_FILE

    @property
    def sample_maps_path(self) -> Path:
        return self.path / SAMPLE_FILE

    @property
    def detector_path(self) -> Path:
        return self.path / DETECTOR_FILE

    def read_record(self) -> RunRecord:
        """The run record; a RecordError names the file and what is wrong."""
        return RunRecord.read(self.record_path)

    def previous_record(self) -> RunRecord | None:
        """The record a former attempt left, or None when there is none that reads."""
        try:
            return self.read_record()
        except RecordError:
            return None

    def is_complete(self) -> bool:
        record = self.previous_record()
        return record is not None and record.status == "complete" and self.scores_path.is_file()

    def write_record(self, record: RunRecord) -> None:
        atomic_write_json(self.record_path, record.to_dict())

    def write_record_on_full_disk(self, record: RunRecord) -> None:
        """Record a run that failed for a full disk: atomically if that fits, else in place (truncating run.json
        first frees its blocks), so it never stays "running"."""
        try:
            self.write_record(record)
        except OSError:
            with contextlib.suppress(OSError), open(self.record_path, "w") as handle:
                handle.write(json.dumps(record.to_dict(), default=str))

    def write_scores(self, scores: pd.DataFrame) -> None:
        atomic_write_parquet(self.scores_path, scores)

    def write_sample_maps(self, arrays: Mapping[str, np.ndarray]) -> None:
        def write(temp: Path) -> None:
            with open(temp, "wb") as handle:
                np.savez_compressed(handle, **arrays)

        atomic_write(self.sample_maps_path, write)

    def save_detector(self, detector: Detector) -> None:
        detector.save(self.detector_path)

    def clear(self) -> None:
        """Remove everything a former attempt left (`--force`), except the lock this process holds."""
        for child in self.path.iterdir():
            if child.name != LOCK_FILE:
                shutil.rmtree(child) if child.is_dir() else child.unlink()


def read_record(folder: Path) -> RunRecord:
    """The run record of `folder`; a RecordError names the file and what is wrong."""
    return RunFolder(folder).read_record()


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
