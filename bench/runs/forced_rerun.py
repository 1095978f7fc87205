"""`bench run --force` on a complete run trains beside it (issue 28): the new attempt lives in the run folder's
`.force/` (checkpoints, scores, its own run.json) and replaces the old files only once it is complete, run.json last.
Killed or failed, the old result stays whole, and the same `--force` command resumes the new attempt from `.force/`.
Reports never see `.force/`: they read run folders, three levels down (<dataset>/<method>/<run-id>)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from bench.runs.folder import RUN_FILE
from bench.runs.lock import LOCK_FILE

STAGING = ".force"


def staging_folder(folder: Path) -> Path:
    """Where a forced rerun of the run in `folder` trains."""
    return Path(folder) / STAGING


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def swap_in(staging: Path, folder: Path) -> None:
    """Move a complete attempt from `staging` into `folder`: each file replaces its old namesake, files of the old
    attempt that the new one lacks go, run.json is replaced last (so until then the old record stands), then the
    staging folder goes."""
    new = {entry.name for entry in staging.iterdir()}
    for name in sorted(new - {RUN_FILE}):
        target = folder / name
        if (staging / name).is_dir() or target.is_dir():
            _remove(target)
        os.replace(staging / name, target)
    for entry in folder.iterdir():
        if entry.name not in new and entry.name not in (LOCK_FILE, STAGING, RUN_FILE):
            _remove(entry)
    os.replace(staging / RUN_FILE, folder / RUN_FILE)
    shutil.rmtree(staging, ignore_errors=True)
