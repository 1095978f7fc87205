"""Both executors produce the same run folders and the same scores."""

from __future__ import annotations

import pandas as pd
import pytest

from bench import runner
from bench.datasets.synthetic import SyntheticDataset
from bench.executors.local import run_local
from bench.store import iter_runs
from bench.testing import TINY_DATA


@pytest.mark.slow
def test_ray_and_local_executors_write_identical_runs(tmp_path):
    ray = pytest.importorskip("ray", reason="the ray extra is part of the test extras; install it")
    options = SyntheticDataset.make_options({k: str(v) for k, v in TINY_DATA.items()})
    adapter = SyntheticDataset(tmp_path / "data", options)
    prepared = adapter.prepare()
    specs = runner.plan(["pca"], "synthetic", [0, 1], "smoke", {})
    from bench.executors.ray_executor import run_on_ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        remote = run_on_ray(specs, adapter, tmp_path / "ray-runs")
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
