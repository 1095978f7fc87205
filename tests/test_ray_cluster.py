"""A real two-node Ray cluster on this machine (a head and a second raylet, loopback only, started with `ray start`):
`bench run --executor ray` on a small grid while the worker process of one GAN run is killed mid-training. The grid
must complete, the killed run must resume from its checkpoint on a retried task (its iteration count does not
restart), the command must say which run was retried and why, and the other runs must equal a local run's.

Every process the test starts is stopped by PID: each `ray start` runs in a session of its own, and every process
of those sessions (GCS, raylets, agents, workers) is signalled by PID at the end; never `ray stop`, which would stop
any other Ray instance of this user on the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.reliability.harness import run_bench, start_bench, wait_for

pytestmark = pytest.mark.slow

RAY = shutil.which("ray", path=str(Path(sys.executable).parent)) or "ray"
ITERATIONS, CHECKPOINT_EVERY = 240, 40  # a tiny GAN: about 15 s of training on one CPU, a checkpoint every ~2.5 s
GAN = ["--set", f"iterations={ITERATIONS}", "--set", f"checkpoint_every={CHECKPOINT_EVERY}", "--set", "log_every=5",
       "--set", "selection=last", "--set", "batch_size=4"]
DATA = ["--set", "data.n_normal=24", "--set", "data.unlabeled_size=8", "--set", "data.n_val=4",
        "--set", "data.n_test=6", "--set", "data.generate_size=32"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _session_of(pid: int) -> int | None:
    """The session id of a live (not zombie) process, from /proc; None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, _ppid, _pgrp, session = stat.rpartition(")")[2].split()[:4]
    return None if state in ("Z", "X") else int(session)


class RayCluster:
    """A head and a second node, each started by `ray start` in a session of its own, with one CPU, no GPU and
    a resource naming the node; token authentication with a fresh token; a short temp dir (Unix socket paths)."""

    def __init__(self) -> None:
        self.temp = Path(tempfile.mkdtemp(prefix="rc", dir="/tmp"))
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.sessions: list[int] = []
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")}, "RAY_AUTH_MODE": "token",
                    "RAY_AUTH_TOKEN": secrets.token_hex(16), "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}

    def _start(self, *args: str, resource: str) -> None:
        ports = [f"--{name}={_free_port()}" for name in ("node-manager-port", "object-manager-port",
                                                         "metrics-export-port", "dashboard-agent-listen-port",
                                                         "dashboard-agent-grpc-port", "runtime-env-agent-port")]
        process = subprocess.Popen([RAY, "start", *args, "--num-cpus=1", "--num-gpus=0", "--node-ip-address=127.0.0.1",
                                    f"--resources={json.dumps({resource: 1})}", "--disable-usage-stats",
                                    f"--temp-dir={self.temp}", *ports], env=self.env, start_new_session=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.sessions.append(process.pid)  # its session: every daemon it starts, and their workers
        output, _ = process.communicate(timeout=90)
        assert process.returncode == 0, output[-3000:]

    def start(self) -> RayCluster:
        self._start("--head", f"--port={self.port}", "--include-dashboard=false", f"--dashboard-port={_free_port()}",
                    resource="node_head")
        self._start(f"--address={self.address}", resource="node_second")
        return self

    def raylets(self) -> int:
        """How many raylets (nodes) of the cluster are running."""
        return sum(Path(f"/proc/{pid}/comm").read_text().strip() == "raylet" for pid in self.pids())

    def pids(self) -> set[int]:
        """The live processes of the cluster (by session)."""
        return {int(p.name) for p in Path("/proc").iterdir()
                if p.name.isdigit() and _session_of(int(p.name)) in self.sessions}

    def stop(self) -> None:
        """SIGTERM every process of the cluster by PID, SIGKILL what is left after a few seconds."""
        for signum, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            for pid in self.pids():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signum)
            deadline = time.monotonic() + grace
            while self.pids() and time.monotonic() < deadline:
                time.sleep(0.1)
        shutil.rmtree(self.temp, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[RayCluster]:
    ray_cluster = RayCluster()
    try:
        yield ray_cluster.start()
    finally:
        ray_cluster.stop()
        assert not ray_cluster.pids(), "processes of the test's Ray cluster are still running"


def _logged_iteration(losses: Path) -> int:
    """The last iteration losses.csv logged (0 before any)."""
    try:
        rows = losses.read_text().splitlines()[1:]
    except OSError:
        return 0
    return int(rows[-1].split(",")[0]) if rows and rows[-1].split(",")[0].isdigit() else 0


def _run_folder(runs: Path, method: str, seed: int) -> Path | None:
    found = sorted(runs.glob(f"synthetic/{method}/*-seed{seed}-*"))
    return found[0] if found else None


def test_a_killed_gan_worker_is_retried_and_resumes_from_its_checkpoint_on_a_two_node_cluster(tmp_path, cluster):
    started = time.monotonic()
    assert cluster.raylets() == 2
    data, runs = tmp_path / "data", tmp_path / "ray-runs"
    env = {"BENCH_CACHE": str(tmp_path / "cache"), "RAY_ADDRESS": cluster.address, "OMP_NUM_THREADS": "1",
           **{k: cluster.env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_USAGE_STATS_ENABLED")}}
    common = ["run", "--dataset", "synthetic", "--preset", "tiny", "--root", str(data), *DATA]
    bench = start_bench(*common, "--methods", "healthygan,pca", *GAN, "--seeds", "0,1", "--runs", str(runs),
                        "--executor", "ray", "--set", "ray.max_retries=2", env=env)
    try:
        gan = lambda: _run_folder(runs, "healthygan", 0)  # noqa: E731
        wait_for(lambda: gan() is not None, timeout=120, what="the GAN run of seed 0 to start")
        # The tasks were submitted after the data was prepared: from now on nothing may read the data folder (a
        # task that prepared the data again would fail, or the synthetic adapter would generate it again).
        data.rename(tmp_path / "data-away")
        wait_for(lambda: _logged_iteration(gan() / "losses.csv") > CHECKPOINT_EVERY + 5, timeout=120,
                 what="the GAN to train past its first checkpoint")
        holder = json.loads((gan() / ".lock").read_text())["pid"]
        assert holder in cluster.pids() and holder != bench.pid, "the run is held by a Ray worker of the cluster"
        assert Path(f"/proc/{holder}/cmdline").read_bytes().startswith(b"ray::"), "a Ray worker process"
        killed_at = _logged_iteration(gan() / "losses.csv")
        os.kill(holder, signal.SIGKILL)
        stdout, stderr = bench.communicate(timeout=180)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
    assert bench.returncode == 0, stdout + stderr
    assert not data.exists(), "a task generated the data again instead of reading the prepared cache"
    (tmp_path / "data-away").rename(data)

    record = json.loads((gan() / "run.json").read_text())
    assert record["status"] == "complete"
    first, *_, last = record["segments"]
    assert (first["pid"], first["status"]) == (holder, "interrupted") and last["status"] == "complete"
    assert last["pid"] != holder
    training = record["method_info"]["training"]
    assert training["iterations"] == ITERATIONS
    # resumed from a checkpoint (at most one more was written between reading the log and the kill), not from 0
    assert CHECKPOINT_EVERY <= training["resumed_from"] <= killed_at + CHECKPOINT_EVERY
    assert training["resumed_from"] % CHECKPOINT_EVERY == 0
    said = " ".join(stdout.split())  # rich wraps long lines
    assert f"retried healthygan seed 0 on synthetic ({gan().name})" in said, stdout
    assert f"process {holder} on" in said and f"resumed from its checkpoint at iteration {training['resumed_from']}" \
        in said, stdout
    assert "retried pca" not in said and "retried healthygan seed 1" not in said

    local = tmp_path / "local-runs"
    for methods, seeds in ((["healthygan,pca", *GAN], "1"), (["pca"], "0")):  # pca takes none of the GAN keys
        result = run_bench(*common, "--methods", *methods, "--seeds", seeds, "--runs", str(local),
                           env={"BENCH_CACHE": str(tmp_path / "cache")})
        assert result.returncode == 0, result.stdout + result.stderr
    compared = 0
    for method, seed in (("healthygan", 1), ("pca", 0), ("pca", 1)):
        remote_folder, local_folder = _run_folder(runs, method, seed), _run_folder(local, method, seed)
        assert local_folder is not None and remote_folder is not None
        assert remote_folder.name == local_folder.name  # the same run identity: ray.* settings are not part of it
        remote_record = json.loads((remote_folder / "run.json").read_text())
        local_record = json.loads((local_folder / "run.json").read_text())
        assert len(remote_record["segments"]) == 1
        for key in ("status", "metrics", "ci95", "config", "data", "threshold_policy"):
            assert remote_record[key] == local_record[key], (method, seed, key)
        pd.testing.assert_frame_equal(pd.read_parquet(remote_folder / "scores.parquet"),
                                      pd.read_parquet(local_folder / "scores.parquet"))
        compared += 1
    assert compared == 3
    print(f"two-node kill test: {time.monotonic() - started:.0f} s after the cluster started")
