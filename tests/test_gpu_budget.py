"""The dry run predicts a GAN run's peak GPU memory (weights, gradients, Adam's moments, activations at the batch,
the training sets on the device) even when probing on the CPU, and refuses a CUDA plan over
$BENCH_GPU_MEMORY_BUDGET_GB in one line. No CUDA here: the check is called with a CUDA device directly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.core import registry
from bench.core.cost import ADAM_BYTES_PER_PARAMETER, DataShape, activation_bytes
from bench.core.errors import BenchError
from bench.runs.dry_run import GPU_BUDGET_ENV, RunEstimate, check_gpu_budget, gpu_memory_mb
from bench.runs.plan import RunSpec

SHAPE = DataShape("synthetic", 32, 1, {"train_normal": 400, "train_unlabeled": 200, "val": 20, "test": 40})
CPU, CUDA = torch.device("cpu"), torch.device("cuda")


def test_activation_bytes_counts_every_leaf_output():
    net = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.ReLU(), torch.nn.Linear(20, 3))
    counted = activation_bytes([net], lambda: net(torch.zeros(4, 10)))
    assert counted == 4 * 4 * (20 + 20 + 3)  # float32 outputs of Linear, ReLU, Linear at batch 4


def _probe(batch: int):
    cls = registry.get_method("healthygan")
    config = dataclasses.replace(cls.preset("tiny", dataset="synthetic"), batch_size=batch)
    return cls.cost_probe(config, SHAPE, CPU)


def test_a_gan_probe_on_cpu_predicts_gpu_memory_that_grows_with_the_batch():
    small, large = _probe(2), _probe(8)
    assert small.gpu_memory_mb is not None and large.gpu_memory_mb is not None
    weights = ADAM_BYTES_PER_PARAMETER * small.parameters / 2**20
    sets = 600 * 32 * 32 / 2**20  # uint8 training normals and unlabeled images at the model's size
    assert small.gpu_memory_mb > weights + sets
    assert large.gpu_memory_mb - weights - sets > 3 * (small.gpu_memory_mb - weights - sets)  # activations x batch


def _estimate(probe) -> RunEstimate:
    return RunEstimate(RunSpec("healthygan", "synthetic", 0, "tiny", {}, {}), probe, 0)


def test_a_cuda_plan_over_the_gpu_budget_is_refused_in_one_line(monkeypatch):
    estimate = _estimate(_probe(2))
    monkeypatch.setenv(GPU_BUDGET_ENV, "0.001")
    check_gpu_budget([estimate], CPU)  # a CPU plan is not checked against the GPU budget
    with pytest.raises(BenchError) as caught:
        check_gpu_budget([estimate], CUDA)
    message = str(caught.value)
    assert "\n" not in message
    assert "1 planned run(s) need more GPU memory than the 0.001 GB budget (healthygan on synthetic" in message
    assert "--set batch_size=N" in message and GPU_BUDGET_ENV in message
    monkeypatch.setenv(GPU_BUDGET_ENV, "64")
    check_gpu_budget([estimate], CUDA)
    assert gpu_memory_mb(estimate.probe, CUDA) == estimate.probe.gpu_memory_mb
    monkeypatch.setenv(GPU_BUDGET_ENV, "lots")
    with pytest.raises(BenchError, match=f"{GPU_BUDGET_ENV} must be a positive number of GB, got 'lots'"):
        check_gpu_budget([estimate], CUDA)
