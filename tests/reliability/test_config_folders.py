"""Issue 28, case 8: a malformed config file, BENCH_CONFIG naming a folder or nothing, an output folder that cannot
be made and BENCH_CACHE naming a file or an uncreatable path: each one line, exit 2 (none silently ignored)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import bench_in_process
from tests.reliability.harness import one_line_error, run_bench, write_tree


def config_file(tmp_path: Path, content: bytes | None) -> str:
    """BENCH_CONFIG's value: a file holding `content`, or (None) a path that does not exist."""
    path = tmp_path / "config.toml"
    if content is not None:
        path.write_bytes(content)
    return str(path)


@pytest.mark.parametrize(("content", "said"), [
    (b"[data]\nmedad = 5\n", "data.medad"),
    (b"data = 5\n", "[data]"),
    (b"[data]\nmedad = '\xff\xfe'\n", "UTF-8"),
    (None, "does not exist"),
], ids=["number-root", "data-not-a-table", "not-utf8", "missing"])
def test_a_bad_config_file_is_one_line(tmp_path, content, said):
    env = {"BENCH_CONFIG": config_file(tmp_path, content)}
    result = bench_in_process("data", "verify", "medad", env=env)
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr and env["BENCH_CONFIG"] in result.stderr, result.stderr


def test_bench_config_naming_a_folder_is_one_line_from_the_installed_script(tmp_path):
    result = run_bench("data", "verify", "medad", env={"BENCH_CONFIG": str(tmp_path)})
    assert result.returncode == 2
    assert "not a file" in one_line_error(result) and str(tmp_path) in result.stderr


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("config-folders")
    write_tree(base / "tree")
    result = bench_in_process("run", "--methods", "pca", "--dataset", "medad", "--preset", "tiny", "--root",
                              str(base / "tree"), "--runs", str(base / "runs"), env={"BENCH_CACHE": str(base / "c")})
    assert result.returncode == 0, result.stderr
    return base / "runs"


@pytest.mark.parametrize("command", [["leaderboard"], ["plot", "--dataset", "medad"], ["site"]])
def test_an_output_folder_that_cannot_be_made_is_one_line(runs, command):
    result = bench_in_process(*command, "--runs", str(runs), "--to", "/proc/x")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "/proc/x" in result.stderr and result.stderr.strip().count("\n") == 0, result.stderr


@pytest.mark.parametrize("where", ["file", "/proc/bench-cache"])
def test_a_cache_that_cannot_be_a_folder_is_one_line(tmp_path, where):
    write_tree(tmp_path / "tree")
    cache = tmp_path / "a-file" if where == "file" else Path(where)
    if where == "file":
        cache.write_text("not a folder")
    result = bench_in_process("data", "prepare", "medad", "--root", str(tmp_path / "tree"),
                              env={"BENCH_CACHE": str(cache)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "BENCH_CACHE" in result.stderr and str(cache) in result.stderr, result.stderr
