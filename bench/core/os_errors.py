"""One line for an operating-system error that reaches the command line (issue 28): which file or folder, and what
to do. A full disk says so and names the folder."""

from __future__ import annotations

import errno
from pathlib import Path

FULL = (errno.ENOSPC, errno.EDQUOT)


def describe_os_error(exc: OSError) -> str:
    """`cannot write /proc/x: No such file or directory; ...` or `the disk holding /runs is full ...`."""
    where = exc.filename or "a file"
    if exc.errno in FULL:
        folder = Path(str(where)).parent if exc.filename else "the output folder"
        return f"the disk holding {folder} is full (writing {where}); free space there or choose another folder"
    return f"cannot use {where}: {exc.strerror or exc}; choose another path (--to, --runs, BENCH_CACHE)"
