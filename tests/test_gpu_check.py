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
    env.pop("BENCH_PEAK_TFLOPS", None)  # CPU: no peak, FLOP/s only
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
    for section, names in (("fast_runs", ("healthygan", "sagan", "brainomaly")),
                           ("normal_gans", ("fanogan", "alocc", "alad"))):  # learning curves: val AUC per checkpoint
        for name in names:
            curve = results[section][name]["curve"]
            iterations = [point["iteration"] for point in curve]
            assert len(curve) >= 2 and iterations == sorted(set(iterations)), (name, curve)
            assert all(0 <= point["val_auc"] <= 1 for point in curve)
            assert len({point["mean_score"] for point in curve}) > 1, curve  # scored the weights as they train
    assert {p["phase"] for p in results["normal_gans"]["fanogan"]["curve"]} == {"fanogan stage 2 (izi_f encoder)"}
    rows = results["flops"]  # part 8: every method with a training step, FLOP/s without a peak on CPU
    assert set(rows) == {"healthygan", "sagan", "brainomaly", "fanogan", "alocc", "alad", "ddad_ae", "ddad_asr",
                         "synthetic_anomaly"}
    assert all(row["flops_per_step"] > 0 and row["achieved_tflops"] > 0 and row["mfu"] is None
               for row in rows.values())
    assert results["mfu_peak"]["peak_tflops"] is None and "pca" in results["mfu_peak"]["skipped"]
    summary = (tmp_path / "out" / "gpu-check-cpu-smoke.md").read_text()
    assert "| healthygan |" in summary and "Score agreement" in summary and "Failed parts" not in summary
    assert "| learning curve (fast, synthetic) |" in summary and "| synthetic_anomaly | ResNet-18" in summary


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
