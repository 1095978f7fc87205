"""`bench run --track mlflow` against a real MLflow with a SQLite store, read back through MLflow's own client.

A fresh SQLite store costs MLflow about 6 s of schema migrations (measured on the 2-core test machine; the import
about 1.5 s), so every test that opens a store is marked slow; the quick ones open none.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.runs.execute import execute
from bench.runs.lock import RunLock
from bench.runs.plan import RunOutcome, plan
from bench.runs.tracking import INSTALL_HINT, default_tracking_uri, track_runs
from bench.testing import TINY_DATA, synthetic_data

BIN = Path(sys.executable).parent
BENCH = shutil.which("bench", path=str(BIN)) or "bench"
SMALL = ["--set", "data.n_normal=16", "--set", "data.unlabeled_size=8", "--set", "data.n_val=4",
         "--set", "data.n_test=6", "--set", "data.generate_size=64"]


def bench(*args: str, env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
    """The installed `bench` script; `env` values of None remove that variable."""
    full = {**os.environ, "COLUMNS": "1000"}  # rich wraps stderr lines at the terminal width
    for key, value in (env or {}).items():
        full.pop(key, None) if value is None else full.__setitem__(key, value)
    return subprocess.run([BENCH, *args], capture_output=True, text=True, env=full, timeout=600)


def client_for(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def all_runs(client, experiment_id: str) -> list:
    return client.search_runs([experiment_id], max_results=1000)


def assert_same_number(logged: float, recorded: float | None) -> None:
    assert recorded is not None
    assert (math.isnan(logged) and math.isnan(recorded)) or logged == recorded, (logged, recorded)


def test_default_store_is_a_sqlite_file_beside_the_runs_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert default_tracking_uri(tmp_path / "results" / "runs") == f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}"
    monkeypatch.chdir(tmp_path)
    assert default_tracking_uri(Path("results/runs")) == f"sqlite:///{tmp_path / 'results' / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert default_tracking_uri(tmp_path / "runs") == "http://tracking.example:5000"


def test_without_mlflow_one_warning_names_the_extra(tmp_path, monkeypatch):
    # None in sys.modules is how Python itself spells "this module cannot be imported": the import raises
    # ModuleNotFoundError exactly as in an environment without mlflow.
    monkeypatch.setitem(sys.modules, "mlflow", None)
    monkeypatch.setitem(sys.modules, "mlflow.tracking", None)
    (spec,) = plan(["pca"], "synthetic", [0], "tiny", {})
    lines: list[str] = []
    summary = track_runs("mlflow", [RunOutcome(spec, tmp_path / "a-run", "complete")], tmp_path / "runs",
                         warn=lines.append)
    assert len(lines) == 1 and INSTALL_HINT in lines[0], lines
    assert summary.logged == [] and summary.uri is None


def test_a_store_mlflow_cannot_open_is_one_warning(tiny_data, tmp_path, monkeypatch):
    """The quick check with the real mlflow (import about 1.5 s): an unknown URI scheme is one line, not a raise."""
    (spec,) = plan(["pca"], "synthetic", [0], "tiny", {})
    done = execute(spec, tiny_data, tmp_path / "runs")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "nosuchscheme://tracking")
    lines: list[str] = []
    summary = track_runs("mlflow", [done], tmp_path / "runs", warn=lines.append)
    assert len(lines) == 1 and "cannot use the tracking store nosuchscheme://tracking" in lines[0], lines
    assert "1 run(s) not logged" in lines[0] and summary.logged == []
    assert json.loads((done.folder / "run.json").read_text())["status"] == "complete"


@pytest.mark.slow
def test_bench_run_track_mlflow_logs_every_run_once(tmp_path):
    """The issue's "done when": bench run --track mlflow, then MLflow (client and `mlflow runs list`) shows every
    run with its metrics; a GAN's losses.csv is a curve; a second run logs nothing new."""
    results = tmp_path / "results"
    args = ["run", "--methods", "pca,healthygan", "--dataset", "synthetic", "--root", str(tmp_path / "data"),
            "--preset", "tiny", "--runs", str(results / "runs"), "--track", "mlflow", *SMALL]
    first = bench(*args, env={"MLFLOW_TRACKING_URI": None})  # the default store: results/mlflow.db
    assert first.returncode == 0, first.stderr
    uri = f"sqlite:///{results / 'mlflow.db'}"
    assert f"mlflow: logged 2 run(s) to bench-synthetic (id 1) at {uri}" in first.stdout, first.stdout
    assert "INFO" not in first.stderr, "MLflow's own log lines should be quiet"
    client = client_for(uri)
    experiment = client.get_experiment_by_name("bench-synthetic")
    logged = {r.data.params["method"]: r for r in all_runs(client, experiment.experiment_id)}
    folders = {p.parent.parent.name: p.parent for p in results.glob("runs/synthetic/*/*/run.json")}
    assert set(logged) == set(folders) == {"pca", "healthygan"}
    for method, folder in folders.items():
        record = json.loads((folder / "run.json").read_text())
        run = logged[method]
        assert run.info.status == "FINISHED"
        params = run.data.params
        assert (params["dataset"], params["preset"], params["seed"]) == ("synthetic", "tiny", "0")
        assert params["split_id"] == record["data"]["split_id"] and params["images_id"] == record["data"]["images_id"]
        assert {k: v for k, v in params.items() if k.startswith("set.data.")} == {
            f"set.data.{k}": v for k, v in record["data_overrides"].items()}
        assert run.data.tags["bench.folder"] == str(folder)
        expected = {**record["metrics"], **record["localisation"]["metrics"]}
        assert "auc" in expected and "pixel_auroc" in expected
        for key, value in expected.items():
            assert_same_number(run.data.metrics[key], value)
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert {"run.json", "scores.parquet"} <= artifacts
        assert Path(client.download_artifacts(run.info.run_id, "run.json", str(tmp_path / method))).read_text() \
            == (folder / "run.json").read_text()
    assert {"samples.png", "losses.csv"} <= {a.path for a in client.list_artifacts(logged["healthygan"].info.run_id)}
    with open(folders["healthygan"] / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 2
    for column in ("D", "G", "gp"):
        history = client.get_metric_history(logged["healthygan"].info.run_id, f"loss/{column}")
        assert sorted((m.step, m.value) for m in history) == [(int(r["iteration"]), float(r[column])) for r in rows]
    assert not [k for k in logged["pca"].data.metrics if k.startswith("loss/")]

    again = bench(*args, env={"MLFLOW_TRACKING_URI": uri})  # the same store, named explicitly this time
    assert again.returncode == 0, again.stderr
    assert "done before" in again.stdout
    assert "logged 0 run(s), 2 logged before" in again.stdout, again.stdout
    assert len(all_runs(client, experiment.experiment_id)) == 2

    listing = subprocess.run([str(BIN / "mlflow"), "runs", "list", "--experiment-id", experiment.experiment_id],
                             capture_output=True, text=True, env={**os.environ, "MLFLOW_TRACKING_URI": uri},
                             timeout=120)
    assert listing.returncode == 0, listing.stderr
    for run in logged.values():
        assert run.info.run_id in listing.stdout


@pytest.mark.slow
def test_an_unusable_store_warns_and_the_run_still_succeeds(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    uri = f"sqlite:///{blocker / 'mlflow.db'}"
    result = bench("run", "--methods", "pca", "--dataset", "synthetic", "--root", str(tmp_path / "data"),
                   "--preset", "tiny", "--runs", str(tmp_path / "runs"), "--track", "mlflow", *SMALL,
                   env={"MLFLOW_TRACKING_URI": uri})
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    warnings = [line for line in result.stderr.splitlines() if "--track mlflow" in line]
    assert len(warnings) == 1 and f"cannot use the tracking store {uri}" in warnings[0], result.stderr
    (record,) = tmp_path.glob("runs/synthetic/pca/*/run.json")
    assert json.loads(record.read_text())["status"] == "complete"
    assert (record.parent / "scores.parquet").is_file()
    assert "AUC" in result.stdout


@pytest.mark.slow
def test_failed_damaged_and_forced_runs(tiny_data, tmp_path, monkeypatch):
    """At the function level on real run folders: a failed run is logged as FAILED with its error; a run folder
    whose run.json is damaged gives one warning naming it while the others are logged; a --force rerun (a new
    record) is logged again, a repeat is not."""
    no_unlabeled = synthetic_data(tmp_path / "data", {**TINY_DATA, "unlabeled_size": 0})
    runs = tmp_path / "results" / "runs"
    (pca,) = plan(["pca"], "synthetic", [0], "tiny", {})
    (gan,) = plan(["healthygan"], "synthetic", [0], "tiny", {})
    done = execute(pca, tiny_data, runs)
    failed = execute(gan, no_unlabeled, runs)  # HealthyGAN needs an unlabeled training set
    assert (done.status, failed.status) == ("complete", "failed")
    damaged_folder = runs / "synthetic" / "pca" / "damaged-copy"
    shutil.copytree(done.folder, damaged_folder)
    text = (damaged_folder / "run.json").read_text()
    (damaged_folder / "run.json").write_text(text[: len(text) // 2])
    damaged = RunOutcome(pca, damaged_folder, "skipped")

    uri = f"sqlite:///{tmp_path / 'elsewhere' / 'store.db'}"
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    lines: list[str] = []
    summary = track_runs("mlflow", [done, damaged, failed], runs, warn=lines.append)
    assert summary.uri == uri and len(summary.logged) == 2 and summary.failed == [damaged_folder]
    assert len(lines) == 2 and str(damaged_folder) in lines[0] and "run.json" in lines[0], lines
    assert lines[1].startswith("mlflow: logged 2 run(s)")
    client = client_for(uri)
    (eid,) = summary.experiments.values()
    by_status = {r.info.status: r for r in all_runs(client, eid)}
    assert set(by_status) == {"FINISHED", "FAILED"}
    assert "unlabeled" in by_status["FAILED"].data.tags["bench.error"]
    assert by_status["FAILED"].data.params["method"] == "healthygan"
    # artifacts beside the store, not in the current folder (MLflow's default is ./mlruns)
    assert (tmp_path / "elsewhere" / "mlartifacts" / "bench-synthetic").is_dir()

    assert track_runs("mlflow", [done, failed], runs, warn=lines.append).logged == []
    forced = execute(pca, tiny_data, runs, force=True)
    assert forced.status == "complete" and forced.folder == done.folder
    assert len(track_runs("mlflow", [forced], runs, warn=lines.append).logged) == 1
    pca_runs = [r for r in all_runs(client, eid) if r.data.params["method"] == "pca"]
    assert len(pca_runs) == 2 and len({r.data.tags["bench.run_key"] for r in pca_runs}) == 1


@pytest.mark.slow
def test_a_second_process_on_the_same_store_waits_for_the_first_and_logs_nothing_twice(tiny_data, tmp_path,
                                                                                        monkeypatch):
    """Two `--track` on one SQLite store (two terminals, a grid and a rerun) must not both find a run unlogged and
    log it twice: while another holder has mlflow.db.lock, track_runs says whom it waits for and touches nothing;
    once the lock is free it logs, and the next call finds the run logged."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    runs = tmp_path / "results" / "runs"
    (pca,) = plan(["pca"], "synthetic", [0], "tiny", {})
    done = execute(pca, tiny_data, runs)
    database = tmp_path / "results" / "mlflow.db"
    lines: list[str] = []
    summaries = []
    waiting = threading.Thread(target=lambda: summaries.append(track_runs("mlflow", [done], runs, lines.append)))
    with RunLock(database.parent, file="mlflow.db.lock"):  # what another bench process holds while it logs
        waiting.start()
        deadline = time.monotonic() + 120
        while not lines and waiting.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lines == [f"mlflow: waiting for process {os.getpid()} on {os.uname().nodename}, which is logging "
                         f"to {database}"]
        time.sleep(0.5)
        assert waiting.is_alive() and not database.exists()  # it waits: no store opened, nothing logged
    waiting.join(timeout=300)
    assert not waiting.is_alive() and len(summaries[0].logged) == 1, lines
    again = track_runs("mlflow", [done], runs, lines.append)
    assert again.logged == [] and again.already == [done.folder]
    assert len(all_runs(client_for(summaries[0].uri), summaries[0].experiments["bench-synthetic"])) == 1
