"""Files written atomically (temp file + rename): a reader sees the old file or the new one, never a partial one."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


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
        except RuntimeError as exc:  # torch reports a full disk as "unexpected pos ..."
            if "unexpected pos" in str(exc) or "file write failed" in str(exc):
                raise OSError(errno.ENOSPC, "No space left on device", str(path)) from None
            raise

    atomic_write(Path(path), save)


def atomic_write_parquet(path: Path, frame: pd.DataFrame) -> None:
    atomic_write(Path(path), lambda temp: frame.to_parquet(temp, index=False))
