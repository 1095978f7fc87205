"""PatchCore's memory grows with the training set's patch count (anomalib keeps every training patch feature, then
projects them for its greedy coreset): the dry run's estimate bounds the peak RSS measured around a real fit, at
small scale, in both of glibc's regimes for the greedy step's temporary (probe.patchcore_memory_bytes).

Measured on the 2-core VM (OMP_NUM_THREADS=1), estimate vs measured peak RSS of the fit: smoke preset at 64 px,
1 % coreset, 300 images (19,200 patch features) 1,238 vs 1,122 MB, 600 images 1,349 vs 1,201 MB; tiny preset at
32 px, 10 % coreset (heap regime), 120 images 1,624 vs 1,233 MB, 300 images 4,858 vs 2,555 MB."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.core.cost import DataShape, peak_memory, random_images
from bench.core.images import TrainData
from bench.methods.anomalib_models.detector import PatchcoreDetector
from bench.methods.anomalib_models.probe import patchcore_memory_bytes, projection_dim
from bench.methods.anomalib_models.training import MMAP_THRESHOLD_BYTES


def _estimate_and_peak(config, n: int, size: int, tmp_path) -> tuple[float, float]:
    shape = DataShape("probe", size, 1, {"train_normal": n, "test": 0, "val": 0})
    probe = PatchcoreDetector.cost_probe(config, shape, torch.device("cpu"))
    train = random_images(n, 1, size)
    detector = PatchcoreDetector(config, seed=0, device="cpu")
    detector.workdir = tmp_path
    with peak_memory(torch.device("cpu")) as peak:
        detector.fit(TrainData(train))
    print(f"estimate {probe.peak_memory_mb:.0f} MB, measured {peak.mb:.0f} MB")
    return probe.peak_memory_mb, peak.mb


def test_the_estimate_bounds_the_peak_where_greedy_temporaries_are_mapped(tmp_path):
    """300 images at 64 px (smoke: random ResNet-18, 64 patches x 384 features each), a 1 % coreset (192 greedy
    steps, about 10 s): each step's 19 MB temporary is above the mmap threshold, so the bank dominates."""
    config = dataclasses.replace(PatchcoreDetector.presets["smoke"], coreset_sampling_ratio=0.01)
    rows = 300 * 64
    assert 4 * rows * projection_dim(rows) > MMAP_THRESHOLD_BYTES
    estimate, measured = _estimate_and_peak(config, 300, 64, tmp_path)
    assert measured <= estimate
    grown = patchcore_memory_bytes(300, rows, 384, 0.01) / 2**20
    assert estimate <= measured + 1.5 * grown  # an upper bound, not a wild one


@pytest.mark.slow
def test_the_estimate_bounds_the_peak_where_greedy_temporaries_stay_on_the_heap(tmp_path):
    """120 images at 32 px (tiny, 16 patches each), 10 % coreset: each step's 2 MB temporary is on glibc's heap,
    where RSS grows by up to one temporary per step; the estimate counts them all (an upper bound)."""
    config = PatchcoreDetector.presets["tiny"]
    rows = 120 * 16
    assert 4 * rows * projection_dim(rows) < MMAP_THRESHOLD_BYTES
    estimate, measured = _estimate_and_peak(config, 120, 32, tmp_path)
    assert measured <= estimate


def test_the_full_protocol_estimate_counts_the_bank():
    """ChestX-ray14's 10,000 training normals at 128 px, paper preset (wide_resnet50_2 layer2+3: 16 x 16 patches of
    1,536 features): the bank alone is 15.7 GB, held twice while anomalib joins it, so over the 16 GB budget."""
    rows = 10_000 * 256
    estimate = patchcore_memory_bytes(10_000, rows, 1536, 0.1)
    assert estimate >= 2 * 4 * rows * 1536
    assert estimate / 2**30 > 16
