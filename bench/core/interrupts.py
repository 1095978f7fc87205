"""Ctrl-C and SIGTERM inside a training loop, handled where the loop's state is whole.

A KeyboardInterrupt can land between any two bytecodes, e.g. half-way through an optimiser step, and a checkpoint
written then would not resume exactly. Inside `deferred_interrupts()` the first SIGINT / SIGTERM only sets a flag;
the loop checks it between iterations, saves a checkpoint and raises `TrainingInterrupted`. A second signal
raises at once (the user insists).

A library's own loop that catches KeyboardInterrupt (Lightning's Trainer: it then ignores Ctrl-C and exits the
process with status 1, so the run would stay "running") runs inside `interrupts_through_library()`: the signals
raise an exception the library lets through after its clean-up, turned back into a KeyboardInterrupt outside.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Raised by a loop that stopped at a signal; `saved` says what it saved (for the one-line message)."""

    def __init__(self, saved: str) -> None:
        super().__init__(saved)
        self.saved = saved


class PendingInterrupt:
    """Whether a signal arrived since the block began."""

    def __init__(self) -> None:
        self.signal: int | None = None

    def __bool__(self) -> bool:
        return self.signal is not None


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[PendingInterrupt]:
    """Defer SIGINT / SIGTERM to the caller's next check (main thread only; elsewhere the flag never sets and
    signals behave as before)."""
    pending = PendingInterrupt()
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return

    def defer(signum: int, frame: object) -> None:
        if pending:
            raise KeyboardInterrupt  # a second signal: stop now
        pending.signal = signum

    previous = {sig: signal.signal(sig, defer) for sig in SIGNALS}
    try:
        yield pending
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _SignalStop(BaseException):
    """Not a KeyboardInterrupt, so `except KeyboardInterrupt` in a library does not swallow it."""


@contextlib.contextmanager
def interrupts_through_library() -> Iterator[None]:
    """SIGINT / SIGTERM stop the block at once, through a library that handles KeyboardInterrupt its own way, and
    leave it as a KeyboardInterrupt (main thread only; elsewhere signals behave as before)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: object) -> None:
        raise _SignalStop(signum)

    previous = {sig: signal.signal(sig, stop) for sig in SIGNALS}
    try:
        yield
    except _SignalStop:
        raise KeyboardInterrupt from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a run: the run is recorded as interrupted; `message` says what was saved and how
    to resume."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
