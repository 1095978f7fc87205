"""Defects 7, 8 and 10: Ctrl-C, SIGTERM and SIGKILL during a run; two processes on one run; resumed timings."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from tests.reliability.harness import one_line_error, run_bench, start_bench, wait_for

pytestmark = pytest.mark.slow  # each trains a (tiny) GAN in a subprocess, some twice

DATA = ["--set", "data.n_normal=24", "--set", "data.unlabeled_size=8", "--set", "data.n_val=4",
        "--set", "data.n_test=6", "--set", "data.generate_size=32"]


def gan_run(tmp_path: Path, iterations: int = 80) -> list[str]:
    """A HealthyGAN run (tiny networks, batch 4) long enough to be interrupted, checkpointing every 20
    iterations."""
    return ["run", "--methods", "healthygan", "--dataset", "synthetic", "--preset", "tiny", "--root",
            str(tmp_path / "data"), "--runs", str(tmp_path / "runs"), "--set", f"iterations={iterations}",
            "--set", "checkpoint_every=20", "--set", "log_every=5", "--set", "selection=last",
            "--set", "batch_size=4", *DATA]


def run_json(tmp_path: Path) -> Path:
    found = list((tmp_path / "runs").glob("synthetic/healthygan/*/run.json"))
    return found[0] if found else tmp_path / "no-run-yet"


def training_started(tmp_path: Path) -> bool:
    losses = run_json(tmp_path).parent / "losses.csv"
    return losses.is_file() and len(losses.read_text().splitlines()) >= 3  # header + two logged rows


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_records_the_run_as_interrupted_and_the_same_command_resumes_it(tmp_path, cache, signum):
    args = gan_run(tmp_path)
    process = start_bench(*args, env=cache)
    wait_for(lambda: training_started(tmp_path), what="training to start")
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1, stderr
    assert "a training checkpoint at iteration" in lines[0] and "resume with: bench run" in lines[0]
    record = json.loads(run_json(tmp_path).read_text())
    assert record["status"] == "interrupted" and record["segments"][-1]["status"] == "interrupted"
    assert record["segments"][-1]["fit_s"] > 0
    stopped_at = lines[0].split("iteration ")[1].split(" ")[0]

    resumed = run_bench(*args, env=cache)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at iteration {stopped_at}" in resumed.stdout
    record = json.loads(run_json(tmp_path).read_text())
    assert record["status"] == "complete"
    assert [s["status"] for s in record["segments"]] == ["interrupted", "complete"]
    assert record["started_at"] == record["segments"][0]["started_at"]
    assert record["timings"]["fit_s"] == pytest.approx(sum(s["fit_s"] for s in record["segments"]))
    training = record["method_info"]["training"]
    assert training["iterations"] == 80 and training["resumed_from"] == int(stopped_at)


def test_a_killed_run_is_reported_as_interrupted_and_resumed_by_the_next_run(tmp_path, cache):
    args = gan_run(tmp_path)
    process = start_bench(*args, env=cache)
    wait_for(lambda: training_started(tmp_path), what="training to start")
    process.kill()
    process.wait(timeout=60)
    assert json.loads(run_json(tmp_path).read_text())["status"] == "running", "SIGKILL leaves no time to record"
    report = run_bench("report", "--dataset", "synthetic", "--runs", str(tmp_path / "runs"))
    assert "interrupted; resume with: bench run --methods healthygan" in one_line_error(report)
    resumed = run_bench(*args, env=cache)
    assert resumed.returncode == 0, resumed.stderr
    assert "last interrupted" in resumed.stdout
    record = json.loads(run_json(tmp_path).read_text())
    assert [s["status"] for s in record["segments"]] == ["interrupted", "complete"]


def test_a_second_process_on_the_same_run_skips_it_naming_the_holder_or_waits(tmp_path, cache):
    args = gan_run(tmp_path)
    first = start_bench(*args, env=cache)
    wait_for(lambda: training_started(tmp_path), what="training to start")
    second = run_bench(*args, env=cache)
    assert second.returncode == 0, second.stderr
    assert "running elsewhere" in second.stdout
    assert f"being run by process {first.pid}" in one_line_error(second)
    waiting = run_bench(*args, "--wait", env=cache)
    assert waiting.returncode == 0 and "done before" in waiting.stdout, waiting.stdout + waiting.stderr
    assert first.wait(timeout=120) == 0
    record = json.loads(run_json(tmp_path).read_text())
    assert len(record["segments"]) == 1, "the work was done once"


def test_ctrl_c_stops_an_anomalib_fit_within_seconds_and_records_it_interrupted(tmp_path, cache):
    """Case 9: Lightning's Trainer catches KeyboardInterrupt, then ignores Ctrl-C and exits with status 1 (the run
    stayed "running"); and a shell's background job starts with SIGINT ignored. PatchCore's coreset on 300 images
    at 64 px runs for tens of CPU-seconds, so a signal that is not honoured shows."""
    runs = tmp_path / "runs"
    args = ["run", "--methods", "patchcore", "--dataset", "synthetic", "--preset", "smoke", "--root",
            str(tmp_path / "data"), "--runs", str(runs), "--set", "data.n_normal=300", "--set", "data.unlabeled_size=8",
            "--set", "data.n_val=4", "--set", "data.n_test=6", "--set", "data.generate_size=64"]
    process = start_bench(*args, env=cache, sigint_ignored=True)
    wait_for(lambda: any(runs.glob("synthetic/patchcore/*/anomalib-engine-*")), timeout=300,
             what="anomalib's fit to start")
    time.sleep(1.0)
    signalled = time.monotonic()
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    stopped_after = time.monotonic() - signalled
    assert process.returncode == 130, stderr
    assert stopped_after < 15, f"the fit went on for {stopped_after:.0f} s after Ctrl-C"
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("interrupted")]
    assert len(lines) == 1 and "resume with: bench run --methods patchcore" in lines[0], stderr
    record = json.loads(next(runs.glob("synthetic/patchcore/*/run.json")).read_text())
    assert record["status"] == "interrupted" and record["segments"][-1]["status"] == "interrupted"
    assert not list(runs.glob("synthetic/patchcore/*/anomalib-engine-*")), "the Engine's scratch folder is removed"
