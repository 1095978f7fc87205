"""For every registered method, the dry run's host-memory estimate bounds the peak RSS of a real `bench run` of the
same plan (tiny preset, tiny synthetic set), each in a fresh process as a user would run them (the probe's peak
is its process's RSS, so comparing within one process would compare mostly the imports already held). Uses
benchmarks/estimates.py's `estimate` and `measure`; `python -m benchmarks.estimates` compares larger sizes and
wall times. tests/methods/test_padim_memory.py and test_patchcore_memory.py check the parts that grow with the
training set."""

from __future__ import annotations

import pytest

from bench.core import registry
from bench.testing import TINY_DATA
from benchmarks.estimates import estimate, measure, prepare

DATA = [f"data.{key}={value}" for key, value in TINY_DATA.items()]


@pytest.fixture(scope="module")
def prepared():
    prepare([item.removeprefix("data.") for item in DATA])


@pytest.mark.slow  # two processes per method (dry run, then the run): about 20 s each on 2 shared cores
@pytest.mark.parametrize("name", registry.methods.names())
def test_the_memory_estimate_bounds_the_measured_peak(name, prepared, tmp_path):
    predicted = estimate(name, "tiny", DATA, "cpu")["peak_mb"]
    measured = measure(name, "tiny", DATA, "cpu", tmp_path)["rss_mb"]
    print(f"{name}: estimate {predicted:.0f} MB, measured peak RSS {measured:.0f} MB")
    assert measured <= predicted
