"""Fixtures for the RSNA / VinDr-CXR / LAG / Med-AD tests: an environment that holds no data-set roots (so only
what a test sets is seen). The scaled-down protocol and tree writers are in scaled_protocol.py."""

from __future__ import annotations

import pytest

from tests.datasets.scaled_protocol import OUR_DATASETS


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No BENCH_DATA_<NAME> for our data sets and an empty config file (a BENCH_CONFIG naming no file is an error)."""
    for name in OUR_DATASETS:
        monkeypatch.delenv(f"BENCH_DATA_{name.upper()}", raising=False)
    empty = tmp_path_factory.mktemp("config") / "empty.toml"
    empty.write_text("")
    monkeypatch.setenv("BENCH_CONFIG", str(empty))
