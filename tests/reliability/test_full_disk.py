"""Issue 28, cases 6 and 7 (the full-disk runs themselves are in test_fuzz.py, on a 64 KiB tmpfs): a partial cache
file left by a killed writer is removed by the next decode; one of a live writer is kept."""

from __future__ import annotations

import subprocess
import sys

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import write_tree


def test_partial_cache_files_of_dead_writers_are_removed(tmp_path, cache):
    write_tree(tmp_path / "tree")
    root = ["--root", str(tmp_path / "tree")]
    assert bench_in_process("data", "prepare", "medad", *root, env=cache).returncode == 0
    (target,) = (tmp_path / "cache").glob("medad/*")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = target / f"images.{int(gone.stdout)}.npy.partial"
    writer = subprocess.Popen(["sleep", "60"])  # another live process, standing for a writer at work
    live = target / f"images.{writer.pid}.npy.partial"
    for path in (dead, live):
        path.write_bytes(b"\0" * 1024)
    (target / "complete.json").unlink()  # the next prepare decodes again
    try:
        assert bench_in_process("data", "prepare", "medad", *root, env=cache).returncode == 0
    finally:
        writer.kill()
        writer.wait()
    assert not dead.exists(), "the killed writer's partial file is gone"
    assert live.exists(), "a running writer's file is left alone"
