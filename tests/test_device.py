"""Device choice: `--device cuda` without a GPU is one line and exit 2; `--device auto` says what it chose and why,
in run.json too."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from bench.core.device import choose_device, no_cuda_reason
from bench.core.errors import BenchError
from bench.runs.execute import execute
from bench.runs.plan import plan

BENCH = shutil.which("bench", path=str(Path(sys.executable).parent)) or "bench"
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")


@NO_CUDA
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_a_gpu_exits_2_with_one_line_and_writes_nothing(tmp_path, device):
    result = subprocess.run([BENCH, "run", "--methods", "pca", "--dataset", "synthetic", "--device", device,
                             "--root", str(tmp_path / "data"), "--runs", str(tmp_path / "runs")],
                            capture_output=True, text=True, env={**os.environ}, timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"--device {device}" in lines[0] and "no CUDA GPU is visible" in lines[0], lines
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists()


@NO_CUDA
def test_auto_without_a_gpu_chooses_the_cpu_and_says_why():
    choice = choose_device("auto")
    assert choice.device == torch.device("cpu")
    assert choice.reason == f"auto: {no_cuda_reason()}, using cpu"
    assert ("CPU-only build" in choice.reason) == (torch.version.cuda is None)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_auto_with_a_gpu_chooses_it_and_says_why():
    choice = choose_device("auto")
    assert choice.device.type == "cuda" and choice.reason.startswith("auto: CUDA is available")


def test_an_explicit_device_is_recorded_as_asked_for():
    assert choose_device("cpu").reason == "asked for with --device cpu"
    with pytest.raises(BenchError, match="unknown device 'tpu'"):
        choose_device("tpu")


def test_run_json_records_the_requested_device_and_the_reason(small_data, tmp_path):
    (spec,) = plan(["pca"], "synthetic", [0], "tiny", {})
    outcome = execute(spec, small_data, tmp_path, device="auto")
    assert outcome.status == "complete", outcome.error
    device = json.loads((outcome.folder / "run.json").read_text())["device"]
    expected = choose_device("auto")
    assert device["device"] == str(expected.device)
    assert device["requested"] == "auto" and device["reason"] == expected.reason
