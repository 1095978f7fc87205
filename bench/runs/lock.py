"""One process per run folder: an advisory lock (`.lock`, flock) that names its holder (PID and host).

The kernel releases a flock when its process dies, however it dies (SIGKILL included), so a free lock beside a
run.json that says "running" means the process that wrote it is gone: the run was interrupted.
"""

from __future__ import annotations

import fcntl
import json
import os
import platform
import time
from pathlib import Path

from bench.core.errors import BenchError

LOCK_FILE = ".lock"


class RunLocked(BenchError):
    """Another process holds the run folder's lock."""

    def __init__(self, folder: Path, holder: str) -> None:
        super().__init__(f"{folder} is being run by {holder}")
        self.folder = folder
        self.holder = holder


class RunLock:
    """Hold the lock of one run folder for the duration of a `with` block (`wait`: block until it is free).
    `file`: the lock file's name in the folder (another name locks something else kept there, e.g. a store)."""

    def __init__(self, folder: Path, *, wait: bool = False, file: str = LOCK_FILE) -> None:
        self.path = Path(folder) / file
        self.wait = wait
        self._fd: int | None = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(self.path.parent, describe_holder(self.path.parent, self.path.name)) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "host": platform.node(), "since": time.time()}).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def describe_holder(folder: Path, file: str = LOCK_FILE) -> str:
    """`process 123 on host` from the lock file (as much as it says)."""
    try:
        info = json.loads((Path(folder) / file).read_text() or "{}")
    except (OSError, json.JSONDecodeError):
        info = {}
    pid, host = info.get("pid"), info.get("host")
    return f"process {pid} on {host}" if pid else "another process"


def is_held(folder: Path) -> bool:
    """Whether a live process holds the folder's lock (False where there is no lock file)."""
    path = Path(folder) / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing releases a shared lock we may have taken
    return False
