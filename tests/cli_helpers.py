"""Two ways for a test to run a `bench` command line: `bench` starts the installed console script in a subprocess
(for what needs a process of its own: exit codes and tracebacks of bad input, signals, locks, setpriv), and
`bench_in_process` calls the same entry point, `bench.cli.main`, in the test's process with the same sys.argv,
output streams and exit code. The second skips a fresh interpreter's imports (torch and scikit-learn: ~2 s of CPU
per `bench run`), for tests whose point is what a command computes or writes, not the process around it."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

BENCH = shutil.which("bench", path=str(Path(sys.executable).parent)) or "bench"


def bench(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`bench ARGS` as a user runs it: the installed script in a new process."""
    return subprocess.run([BENCH, *args], capture_output=True, text=True, cwd=cwd, env={**os.environ}, timeout=600)


@contextlib.contextmanager
def environment(env: dict[str, str] | None) -> Iterator[None]:
    """os.environ with `env` applied while the block runs, then exactly as before."""
    saved = dict(os.environ)
    os.environ.update(env or {})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def bench_in_process(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`bench ARGS` through `bench.cli.main` in this process: stdout, stderr and the exit code as a subprocess
    would give them (main's mapping of errors to exit 2 included), with `env` added to the environment while it
    runs. Restores sys.argv, the environment and the SIGTERM handler that main installs."""
    from bench.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    argv, handler = sys.argv, signal.getsignal(signal.SIGTERM)
    sys.argv = ["bench", *args]
    code: int | str | None = 0
    try:
        with environment(env), contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            main()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = argv
        signal.signal(signal.SIGTERM, handler)
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess(["bench", *args], returncode, stdout.getvalue(), stderr.getvalue())
