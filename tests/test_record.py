"""The typed run record: old records load (migrated on read), newer ones are refused in one line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.runs.record import SCHEMA_VERSION, RecordError, RunRecord

SCHEMA_1_RUNS = Path(__file__).parent / "data" / "runs-schema1"  # written by bench before the typed record
BENCH = Path(sys.executable).parent / "bench"


def test_a_schema_1_record_migrates_on_read():
    (path,) = SCHEMA_1_RUNS.glob("*/*/*/run.json")
    raw = json.loads(path.read_text())
    assert raw["schema"] == 1 and "segments" not in raw and "config_id" not in raw
    record = RunRecord.read(path)
    assert record.schema == SCHEMA_VERSION and record.config_id == "smoke-0fa492e1"
    assert [s.status for s in record.segments] == ["complete"]
    assert record.fit_seconds == pytest.approx(raw["timings"]["fit_s"])
    assert record.metrics == raw["metrics"] and record.data.split_id == raw["data"]["split_id"]


def test_a_record_round_trips_through_json():
    (path,) = SCHEMA_1_RUNS.glob("*/*/*/run.json")
    record = RunRecord.read(path)
    assert RunRecord.from_dict(json.loads(json.dumps(record.to_dict()))) == record


def test_schema_1_runs_still_report():
    result = subprocess.run([str(BENCH), "report", "--dataset", "synthetic", "--runs", str(SCHEMA_1_RUNS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "| pca" in result.stdout and "warning" not in result.stderr


@pytest.mark.parametrize("command", ["report", "compare"])
def test_a_record_from_a_newer_bench_is_one_line(tmp_path, command):
    runs = tmp_path / "runs"
    shutil.copytree(SCHEMA_1_RUNS, runs)
    (path,) = runs.glob("*/*/*/run.json")
    raw = json.loads(path.read_text())
    path.write_text(json.dumps({**raw, "schema": SCHEMA_VERSION + 1}))
    args = (["report", "--dataset", "synthetic", "--runs", str(runs)] if command == "report"
            else ["compare", str(path.parent), str(path.parent)])
    result = subprocess.run([str(BENCH), *args], capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"written by a newer bench (record schema {SCHEMA_VERSION + 1}" in result.stderr
    with pytest.raises(RecordError, match="upgrade medad-bench"):
        RunRecord.read(path)
