"""Issue 28, case 5: `--force` keeps the finished result until the new attempt is complete (it trains beside it,
in the run folder's `.force/`, and swaps at the end); killed, the same `--force` command resumes the new attempt."""

from __future__ import annotations

import json
import time

import pytest

from tests.reliability.harness import run_bench, start_bench, wait_for
from tests.reliability.test_interrupts import gan_run

pytestmark = pytest.mark.slow  # a tiny GAN trained twice and a half


def test_a_killed_forced_rerun_keeps_the_old_result_and_the_same_command_resumes_it(tmp_path, cache):
    args = gan_run(tmp_path)
    first = run_bench(*args, env=cache)
    assert first.returncode == 0, first.stderr
    (folder,) = (tmp_path / "runs").glob("synthetic/healthygan/*")
    old = {name: (folder / name).read_bytes() for name in ("run.json", "scores.parquet", "detector.pt")}
    started = time.time()

    def new_training_logged() -> bool:
        return any(path.stat().st_mtime > started and len(path.read_text().splitlines()) >= 6  # iteration 25
                   for path in folder.rglob("losses.csv"))

    forced = start_bench(*args, "--force", env=cache)
    wait_for(new_training_logged, what="the forced rerun to train")
    wait_for(lambda: any(p.stat().st_mtime > started for p in folder.rglob("checkpoints/last.pt")),
             what="a checkpoint of the forced rerun (iteration 20)")
    forced.kill()
    forced.wait(timeout=60)
    for name, content in old.items():
        assert (folder / name).read_bytes() == content, f"{name} of the finished run must survive the killed rerun"
    report = run_bench("report", "--dataset", "synthetic", "--runs", str(tmp_path / "runs"))
    assert report.returncode == 0 and "skipped" not in report.stderr, report.stderr

    resumed = run_bench(*args, "--force", env=cache)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming at iteration" in resumed.stdout and "resuming at iteration 0" not in resumed.stdout
    record = json.loads((folder / "run.json").read_text())
    assert record["status"] == "complete"
    assert [s["status"] for s in record["segments"]] == ["interrupted", "complete"]
    assert record["started_at"] != json.loads(old["run.json"])["started_at"], "the new attempt replaced the old"
    assert not (folder / ".force").exists(), "the staging folder is gone after the swap"
