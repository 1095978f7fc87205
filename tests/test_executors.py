"""Both executors produce the same run folders and the same scores; the Ray executor's settings, the methods'
resource declarations and the data a Ray task reads."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bench.core.errors import BenchError
from bench.datasets.synthetic import SyntheticDataset
from bench.runs.executors.local import run_local
from bench.runs.plan import plan
from bench.runs.scan import iter_runs
from bench.testing import TINY_DATA


@pytest.mark.slow
def test_ray_and_local_executors_write_identical_runs(tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra is part of the test extras; install it")
    options = SyntheticDataset.make_options({k: str(v) for k, v in TINY_DATA.items()})
    adapter = SyntheticDataset(tmp_path / "data", options)
    prepared = adapter.prepare()
    specs = plan(["pca"], "synthetic", [0, 1], "smoke", {})
    from bench.runs.executors.ray_executor import run_on_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_on_ray(specs, prepared, tmp_path / "ray-runs")
    finally:
        ray.shutdown()
    local = run_local(specs, prepared, tmp_path / "local-runs")
    assert [o.status for o in remote] == [o.status for o in local] == ["complete", "complete"]
    remote_runs = {f.relative_to(tmp_path / "ray-runs") for f, _ in iter_runs(tmp_path / "ray-runs")}
    local_runs = {f.relative_to(tmp_path / "local-runs") for f, _ in iter_runs(tmp_path / "local-runs")}
    assert remote_runs == local_runs and len(remote_runs) == 2
    for relative in remote_runs:
        a = pd.read_parquet(tmp_path / "ray-runs" / relative / "scores.parquet")
        b = pd.read_parquet(tmp_path / "local-runs" / relative / "scores.parquet")
        pd.testing.assert_frame_equal(a, b)


# --- the Ray executor's settings, the methods' resources and the data a task reads (fast: no Ray started) -------


def test_ray_settings_parse_each_key_and_default_to_the_methods_declarations():
    from bench.runs.executors.ray_settings import DEFAULT_MAX_RETRIES, parse_settings

    assert parse_settings({}) == parse_settings(None)
    assert parse_settings({}).max_retries == DEFAULT_MAX_RETRIES and parse_settings({}).num_gpus is None
    parsed = parse_settings({"num_gpus": "0.25", "num_cpus": "2", "memory": "1.5GiB", "max_retries": "0"})
    assert (parsed.num_gpus, parsed.num_cpus, parsed.memory, parsed.max_retries) == (0.25, 2.0, int(1.5 * 2**30), 0)
    assert parse_settings({"memory": "8G"}).memory == 8 * 10**9
    assert parse_settings({"memory": "512MB"}).memory == 512 * 10**6
    assert parse_settings({"memory": "1000"}).memory == 1000
    assert parse_settings({"num_gpus": "2"}).num_gpus == 2


@pytest.mark.parametrize(("key", "value", "says"), [
    ("gpus", "1", "unknown Ray setting; valid keys: ray.max_retries, ray.memory, ray.num_cpus, ray.num_gpus"),
    ("num_gpus", "1.5", "a fraction in [0, 1]"),
    ("num_gpus", "-0.5", "a fraction in [0, 1]"),
    ("num_gpus", "one", "expected a number"),
    ("num_gpus", "nan", "finite"),
    ("num_cpus", "0", "above 0"),
    ("memory", "lots", "expected a size"),
    ("memory", "0G", "above 0"),
    ("max_retries", "-1", "0 or more"),
    ("max_retries", "2.5", "whole number"),
])
def test_a_bad_ray_setting_is_a_one_line_bench_error_naming_it(key, value, says):
    from bench.core.errors import BenchError
    from bench.runs.executors.ray_settings import parse_settings

    with pytest.raises(BenchError) as caught:
        parse_settings({key: value})
    message = str(caught.value)
    assert f"ray.{key}" in message and says in message and "\n" not in message


def test_methods_declare_what_a_run_needs_gans_a_gpu_feature_methods_a_share():
    from bench.core import registry
    from bench.core.detector import Detector, RunResources

    assert Detector.resources == RunResources(gpus=1.0, cpus=1.0)  # a third-party method: one GPU, as before
    gpus = {name: registry.get_method(name).resources.gpus
            for name in ("healthygan", "sagan", "ganomaly", "padim", "patchcore", "pca")}
    assert gpus == {"healthygan": 1.0, "sagan": 1.0, "ganomaly": 0.5, "padim": 0.25, "patchcore": 0.25, "pca": 0.0}
    with pytest.raises(ValueError):
        RunResources(gpus=1.5)


def test_task_options_follow_the_declaration_the_cluster_the_device_and_the_overrides():
    from bench.core.detector import RunResources
    from bench.core.errors import BenchError
    from bench.runs.executors.ray_settings import parse_settings, task_options, unschedulable

    padim, default = RunResources(gpus=0.25), parse_settings({})
    on_gpus = task_options(padim, default, cluster_gpus=4, device="auto")
    assert on_gpus == {"num_cpus": 1.0, "num_gpus": 0.25, "max_retries": 3, "retry_exceptions": False}
    assert task_options(padim, default, cluster_gpus=0, device="auto")["num_gpus"] == 0  # a CPU-only cluster
    assert task_options(padim, default, cluster_gpus=4, device="cpu")["num_gpus"] == 0
    assert task_options(RunResources(gpus=0), default, cluster_gpus=4, device="cuda")["num_gpus"] > 0
    override = parse_settings({"num_gpus": "0.5", "num_cpus": "2", "memory": "2G", "max_retries": "1"})
    assert task_options(padim, override, cluster_gpus=4, device="auto") == {
        "num_cpus": 2.0, "num_gpus": 0.5, "max_retries": 1, "retry_exceptions": False, "memory": 2 * 10**9}
    with pytest.raises(BenchError, match="the Ray cluster has no GPUs"):
        task_options(padim, override, cluster_gpus=0, device="auto")
    with pytest.raises(BenchError, match="--device cpu"):
        task_options(padim, override, cluster_gpus=4, device="cpu")
    nodes = [{"CPU": 1.0, "memory": 4e9}, {"CPU": 8.0, "GPU": 1.0, "memory": 3e10}]
    assert unschedulable({"num_cpus": 4, "num_gpus": 0.5}, nodes) is None
    assert "GPU 2" in unschedulable({"num_cpus": 1, "num_gpus": 2}, nodes)


def test_a_ray_task_reads_only_the_prepared_cache_never_the_data_folder(tmp_path):
    """The task body (`run_task`, called here in-process) gets the prepared data without its images and opens the
    image cache: with the data folder gone it still runs, and the cache file is not rewritten."""
    import pickle
    import shutil

    from bench.runs.executors.ray_executor import SharedData, run_task
    from bench.testing import synthetic_data

    options = {"n_normal": 16, "unlabeled_size": 8, "n_val": 4, "n_test": 6, "generate_size": 32}
    prepared = synthetic_data(tmp_path / "data", options)
    shared = SharedData.of(prepared)
    assert shared.images_path is not None and len(shared.prepared.images) == 0
    assert len(pickle.dumps(shared)) < prepared.images.nbytes  # the images stay on shared storage
    cache_file = Path(shared.images_path)
    before = cache_file.stat().st_mtime_ns
    shutil.rmtree(tmp_path / "data")  # a task that re-prepared (decode, generate, stat the files) would fail now
    [spec] = plan(["pca"], "synthetic", [0], "tiny", {})
    outcome = run_task(spec, pickle.loads(pickle.dumps(shared)), str(tmp_path / "runs"), "cpu", False, False, [])
    assert outcome.status == "complete", outcome.error
    assert cache_file.stat().st_mtime_ns == before
    assert not (tmp_path / "data").exists(), "the synthetic adapter would have generated it again"
    local = run_local([spec], prepared, tmp_path / "local")[0]
    pd.testing.assert_frame_equal(pd.read_parquet(outcome.folder / "scores.parquet"),
                                  pd.read_parquet(local.folder / "scores.parquet"))
    cache_file.unlink()
    with pytest.raises(BenchError, match="BENCH_CACHE must be on storage that every node shares"):
        shared.open()


def test_a_run_ray_gave_up_on_is_a_failed_outcome_saying_how_to_resume(tmp_path):
    exceptions = pytest.importorskip("ray.exceptions", reason="the ray extra is part of the test extras")
    from bench.runs.executors.ray_executor import _lost, _Submitted

    [spec] = plan(["pca"], "synthetic", [0], "tiny", {})
    item = _Submitted(spec, tmp_path / "run", 0)
    died = _lost(item, exceptions.WorkerCrashedError(), retries=2)
    assert died.status == "failed" and died.folder == tmp_path / "run"
    assert died.error.startswith("Ray gave up after 3 attempt(s): WorkerCrashedError: The worker died unexpectedly")
    assert died.error.endswith("run the same command again to resume from the run's last checkpoint")
    try:
        raise BenchError("the image cache /x cannot be read on this Ray node")
    except BenchError as exc:
        raised = exceptions.RayTaskError("run_task", "traceback", exc)
    assert _lost(item, raised, retries=2).error == (
        "failed in its Ray task: BenchError: the image cache /x cannot be read on this Ray node")
