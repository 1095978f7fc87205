"""`make gpu-check` on CPU (`--cpu-smoke`): every part runs for a few steps with tiny networks and the JSON and
Markdown come out complete. Run as the Makefile does (`python -m benchmarks.gpu_check` from the repository root),
in a subprocess: putting the root on this process's path would shadow Hugging Face's `datasets` (CONTRIBUTING.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def gpu_check(tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--cpu-smoke", "--out",
                             str(tmp_path / "out"), *extra], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result, json.loads((tmp_path / "out" / "gpu-check-cpu-smoke.json").read_text())


def check_complete(results: dict, tmp_path: Path) -> None:
    assert results["errors"] == []
    for name in ("healthygan", "sagan", "brainomaly"):
        step = results["step_throughput"][name]
        assert step["ours"]["it_s"] > 0 and step["reference"]["it_s"] > 0 and step["ratio"] > 0
        assert step["ours_accel"]["amp"] == "bf16" and step["ours_accel"]["channels_last"]
        assert 0 <= results["fast_runs"][name]["auc"] <= 1
    ddad = results["step_throughput"]["ddad"]
    assert ddad["ratio"] > 0 and ddad["asr_ratio"] > 0 and ddad["ours_accel"]["amp"] == "bf16"
    assert set(results["baselines"]) == {"padim", "patchcore", "ganomaly"}
    assert all(0 <= row["auc"] <= 1 for row in results["baselines"].values())
    for name in ("fanogan", "alocc", "alad"):  # part 5: the normals-only GANs on the accel path
        row = results["normal_gans"][name]
        assert 0 <= row["auc"] <= 1 and row["accel"]["amp"] == "bf16" and row["accel"]["channels_last"]
        assert all(count > 0 for count in row["parameters"].values())
    agreement = results["score_agreement"]["healthygan"]
    assert agreement["max_abs_diff"] < 0.05 and agreement["images"] > 0
    ssl = results["self_supervised"]
    assert ssl["throughput"]["steps_per_s"]["ours"] > 0 and ssl["throughput"]["synthesis"]["nsa"]["bottleneck"]
    assert 0 <= ssl["nsa"]["auc"] <= 1
    summary = (tmp_path / "out" / "gpu-check-cpu-smoke.md").read_text()
    assert "| healthygan |" in summary and "Score agreement" in summary and "Failed parts" not in summary


@pytest.mark.slow  # `make test` only: the compile variant below runs the same parts, and neither is product code
def test_cpu_smoke_without_compile_runs_every_part(tmp_path):
    _, results = gpu_check(tmp_path, "--no-compile")
    check_complete(results, tmp_path)
    assert not results["step_throughput"]["sagan"]["ours_accel"]["compile"]


@pytest.mark.slow
def test_cpu_smoke_runs_every_part_with_compile(tmp_path):
    """Slow on a cold inductor cache (C++ for both GANs' graphs: minutes on 2 cores); seconds on a warm one."""
    _, results = gpu_check(tmp_path)
    check_complete(results, tmp_path)
    assert all(results["step_throughput"][n]["ours_accel"]["compile"] for n in ("healthygan", "sagan", "brainomaly"))
