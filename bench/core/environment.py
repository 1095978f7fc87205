"""Environment variables set for the duration of a block (and restored, or removed, after it)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator


@contextlib.contextmanager
def temporary_env(name: str, value: str) -> Iterator[None]:
    """`os.environ[name] = value` inside the block; the previous value (or its absence) afterwards."""
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = previous
