"""Test-wide settings: a private cache folder, offline hub access, bounded threads."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "16777216")


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory):
    """Every test session decodes into its own BENCH_CACHE, never the user's."""
    previous = os.environ.get("BENCH_CACHE")
    os.environ["BENCH_CACHE"] = str(tmp_path_factory.mktemp("bench-cache"))
    yield
    if previous is None:
        os.environ.pop("BENCH_CACHE", None)
    else:
        os.environ["BENCH_CACHE"] = previous
