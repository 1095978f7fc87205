"""Fixtures of the reliability suite (its helpers are in harness.py)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def cache(tmp_path: Path) -> dict[str, str]:
    """A fresh BENCH_CACHE for one test (the environment to pass to run_bench)."""
    return {"BENCH_CACHE": str(tmp_path / "cache")}
