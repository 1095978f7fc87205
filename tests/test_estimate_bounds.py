"""For every registered method, the dry run's memory estimate (its `cost_probe`, at the tiny preset, for the data's
shape) bounds the peak memory measured around a real fit and scoring of the same size, in the same process (the
probe's peak is the process's RSS, as the fit's is). Small scale: tests/methods/test_padim_memory.py and
test_patchcore_memory.py check the parts that grow with the training set at larger sizes; `python -m
benchmarks.estimates` compares whole `bench run` processes."""

from __future__ import annotations

import pytest
import torch

from bench.core import registry
from bench.core.cost import DataShape, peak_memory
from bench.testing import TINY_DATA, synthetic_data, train_data

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return synthetic_data(tmp_path_factory.mktemp("synthetic"), TINY_DATA)


@pytest.mark.slow  # every method's probe and tiny fit: about a minute and a half on 2 cores
@pytest.mark.parametrize("name", registry.methods.names())
def test_the_memory_estimate_bounds_the_measured_peak(name, prepared, tmp_path):
    cls = registry.get_method(name)
    config = cls.preset("tiny", dataset="synthetic")
    counts = {split: sum(labels.values()) for split, labels in prepared.counts().items()}
    shape = DataShape("synthetic", prepared.size, prepared.channels, counts)
    estimate = cls.cost_probe(config, shape, CPU).peak_memory_mb
    assert estimate is not None
    detector = cls(config, seed=0, device=CPU, workdir=tmp_path)
    data = train_data(prepared, cls)
    with peak_memory(CPU) as peak:
        detector.fit(data, val=prepared.split("val"))
        detector.score(prepared.split("test"))
    print(f"{name}: estimate {estimate:.0f} MB, measured {peak.mb:.0f} MB")
    assert peak.mb <= estimate
