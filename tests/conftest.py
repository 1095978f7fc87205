"""Test-wide settings (a private cache folder, offline hub access, bounded threads) and the shared synthetic data
sets, generated once per session through the real adapter -> manifest -> cache path (bench.testing)."""

from __future__ import annotations

import os

import pytest
import torch

from bench.data.adapter import PreparedData
from bench.testing import LEARNING_DATA, TINY_DATA, synthetic_data

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", "16777216")
# One compute thread per test process (subprocesses inherit it): the tests' networks are small, and on a 2-core
# machine shared with anything else two threads wait on each other (a SAGAN smoke step measured 0.11 s with one
# thread, 0.09-0.80 s with two); `make test` runs two processes instead (pytest-xdist).
os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


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


@pytest.fixture(scope="session")
def tiny_data(private_cache, tmp_path_factory: pytest.TempPathFactory) -> PreparedData:
    """The tiny synthetic set (bench.testing.TINY_DATA: 48 normal, 32 unlabeled, 8 + 8 val, 12 + 12 test, 64 px).
    Shared by the whole session: read it, never change it (`split()` returns copies)."""
    return synthetic_data(tmp_path_factory.mktemp("tiny-synthetic"), TINY_DATA)


@pytest.fixture(scope="session")
def small_data(private_cache, tmp_path_factory: pytest.TempPathFactory) -> PreparedData:
    """A smaller set for tests that only need something to train on (16 normal, 8 unlabeled, 4 + 4 val, 6 + 6
    test); shared and read-only like `tiny_data`."""
    options = {"n_normal": 16, "unlabeled_size": 8, "n_val": 4, "n_test": 6, "generate_size": 64}
    return synthetic_data(tmp_path_factory.mktemp("small-synthetic"), options)


@pytest.fixture(scope="session")
def learning_data(private_cache, tmp_path_factory: pytest.TempPathFactory) -> PreparedData:
    """The learning split (bench.testing.LEARNING_DATA) on which the slow learning checks measure AUC."""
    return synthetic_data(tmp_path_factory.mktemp("learning-synthetic"), LEARNING_DATA)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` (make test): keep each `xdist_group` on one worker under pytest >= 9.2.

    pytest-xdist 3.8 groups tests by a `@group` suffix it writes to `item._nodeid`; pytest 9.2 keeps node ids in
    `item._id`, so the suffix is lost and every group was spread over both workers, each building the group's
    shared fixtures (the site and its browser, each method's contract fit, the accelerated GAN models) again
    (pytest-dev/pytest-xdist#1386). This writes the suffix where pytest reads it; a no-op where xdist's own
    suffix took effect."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import NodeId  # private: pytest 9.2's structured node id (xdist#1388 does the same)

    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            item._id = NodeId.parse(item.nodeid + suffix)
