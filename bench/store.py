"""The results store: run folders `<runs>/<dataset>/<method>/<run-id>/` with run.json and scores.parquet.

Every file is written atomically (temp file + rename). run.json is written first with status "running" and
last with "complete" (or "failed" with the traceback), so a half-written run is never taken for a complete one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bench.errors import BenchError

SCHEMA_VERSION = 1
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
    atomic_write(Path(path), lambda temp: torch.save(obj, temp))


def atomic_write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(Path(path), lambda temp: frame.to_parquet(temp, index=False))


def run_id(preset: str, seed: int, overrides: Mapping[str, Any], data_overrides: Mapping[str, Any]) -> str:
    """`<preset>-seed<seed>` plus, when anything is overridden, a short hash of the overrides."""
    if not overrides and not data_overrides:
        return f"{preset}-seed{seed}"
    blob = json.dumps({"method": dict(sorted(overrides.items())), "data": dict(sorted(data_overrides.items()))},
                      sort_keys=True, default=str)
    return f"{preset}-seed{seed}-{hashlib.sha256(blob.encode()).hexdigest()[:8]}"


def run_dir(runs_root: Path, dataset: str, method: str, rid: str) -> Path:
    """The folder of one run; method names like `anomalib:stfpm` become `anomalib-stfpm`."""
    return Path(runs_root) / dataset / method.replace(":", "-") / rid


def read_run(folder: Path) -> dict[str, Any] | None:
    """The run.json of `folder`, or None when there is none (or it is unreadable)."""
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def is_complete(folder: Path) -> bool:
    record = read_run(folder)
    return bool(record) and record.get("status") == "complete" and (Path(folder) / SCORES_FILE).is_file()


def iter_runs(runs_root: Path, datasets: list[str] | None = None, *, status: str | None = "complete"
              ) -> Iterator[tuple[Path, dict[str, Any]]]:
    """(folder, record) of every run under `runs_root` (optionally only some data sets and one status)."""
    runs_root = Path(runs_root)
    if not runs_root.exists():
        return
    for path in sorted(runs_root.glob(f"*/*/*/{RUN_FILE}")):
        folder = path.parent
        if datasets is not None and folder.parent.parent.name not in datasets:
            continue
        record = read_run(folder)
        if record is None or (status is not None and record.get("status") != status):
            continue
        if status == "complete" and not (folder / SCORES_FILE).is_file():
            continue
        yield folder, record


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
