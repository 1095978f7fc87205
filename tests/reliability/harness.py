"""Helpers of the reliability suite, which drives the real `bench` console script in subprocesses, on Med-AD
trees it writes itself: what a careless user does (two trees in one runs folder, files changed under the cache,
damaged run folders, bad values, Ctrl-C, two processes at once) must never give a silently wrong number. Where the
process itself is not the point (a run that only sets the scene, what a run computes, a refusal whose exit code
main() maps), tests call the same entry point in their own process (tests/cli_helpers.bench_in_process)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

BENCH = shutil.which("bench", path=str(Path(sys.executable).parent)) or "bench"
# Root ignores permission bits; without these capabilities it meets them as any user does (util-linux setpriv).
AS_UNPRIVILEGED = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", "--"]
COUNTS = {"train/0": 24, "train/unlabeled/0": 6, "train/unlabeled/1": 6, "test/0": 10, "test/1": 10}


def run_bench(*args: str, env: dict[str, str] | None = None, unprivileged: bool = False,
              timeout: float = 300) -> subprocess.CompletedProcess:
    """`bench ARGS` as a user runs it; `unprivileged`: without root's power to ignore file permissions."""
    prefix = AS_UNPRIVILEGED if unprivileged and os.geteuid() == 0 else []
    return subprocess.run([*prefix, BENCH, *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", **(env or {})})


def start_bench(*args: str, env: dict[str, str] | None = None, sigint_ignored: bool = False) -> subprocess.Popen:
    """`bench ARGS` in the background (for signals and concurrent runs); `sigint_ignored`: started as a shell
    starts a background job (`bench run ... &` in a script), with SIGINT ignored."""
    ignore_sigint = (lambda: signal.signal(signal.SIGINT, signal.SIG_IGN)) if sigint_ignored else None
    return subprocess.Popen([BENCH, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "COLUMNS": "200", **(env or {})}, preexec_fn=ignore_sigint)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The error a failed command printed; fails the test if it printed a traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr


def image(rng: np.random.Generator, abnormal: bool, size: int = 32) -> np.ndarray:
    """Smooth noise; an abnormal image also holds a bright disc (easy to detect: PCA reaches AUC ~1)."""
    pixels = rng.normal(100, 12, (size, size))
    if abnormal:
        yy, xx = np.mgrid[:size, :size]
        cy, cx = rng.integers(8, size - 8, 2)
        pixels[(yy - cy) ** 2 + (xx - cx) ** 2 < 25] += 120
    return np.clip(pixels, 0, 255).astype(np.uint8)


def write_tree(root: Path, *, seed: int = 0, counts: dict[str, int] | None = None) -> dict[str, list[str]]:
    """A Med-AD tree (images/*.png + data.json) with easy anomalies; returns data.json's lists."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True, exist_ok=True)
    lists: dict[str, list[str]] = {}
    for key, n in (counts or COUNTS).items():
        names = [f"{key.replace('/', '_')}_{i:03d}.png" for i in range(n)]
        for name in names:
            Image.fromarray(image(rng, key.endswith("1"))).save(root / "images" / name)
        lists[key] = names
    write_lists(root, lists)
    return lists


def write_lists(root: Path, lists: dict[str, list[str]]) -> None:
    data = {"train": {"0": lists["train/0"], "unlabeled": {"0": lists["train/unlabeled/0"],
                                                          "1": lists["train/unlabeled/1"]}},
            "test": {"0": lists["test/0"], "1": lists["test/1"]}}
    (root / "data.json").write_text(json.dumps(data))


def records(runs: Path) -> list[dict]:
    """Every run.json under `runs`, parsed."""
    return [json.loads(path.read_text()) for path in sorted(runs.glob("*/*/*/run.json"))]


def wait_for(condition: Callable[[], bool], timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)
