"""The layer contract (tests/architecture/layers.py) holds for the tree, and the checker finds a broken one."""

from __future__ import annotations

from pathlib import Path

from tests.architecture.layers import LAYERS, stage_of, unstaged, violations

ROOT = Path(__file__).resolve().parents[2]


def test_no_module_imports_a_later_stage():
    found = violations(ROOT)
    assert not found, "imports of a later stage:\n" + "\n".join(map(str, found))


def test_every_module_belongs_to_a_stage():
    assert unstaged(ROOT) == []


def test_each_stage_is_a_folder_a_newcomer_finds():
    for prefixes in LAYERS:
        for prefix in prefixes:
            parts = prefix.split(".")[1:]
            folder = {"methods": "methods", "datasets": "datasets"}.get(parts[0], f"bench/{parts[0]}")
            assert (ROOT / folder).is_dir() or (ROOT / f"{folder}.py").is_file(), prefix


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_checker_names_a_lower_stage_importing_a_higher_one_anywhere(tmp_path):
    for folder in ("bench/core", "bench/runs", "bench/cli", "methods", "datasets"):
        write(tmp_path, f"{folder}/__init__.py", "")
    write(tmp_path, "bench/core/fine.py", "from bench.core import errors\n")
    write(tmp_path, "bench/core/bad.py", "def f():\n    from bench.runs.plan import plan\n")
    write(tmp_path, "bench/core/typing_only.py",
          "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bench import cli\n")
    write(tmp_path, "methods/m.py", "import bench.report.table\n")
    write(tmp_path, "bench/runs/relative.py", "from ..cli import app\n")
    found = sorted(map(str, violations(tmp_path)))
    assert found == [
        "bench.core.bad:2 imports bench.runs.plan (bench.runs), a later stage than its own (bench.core)",
        "bench.core.typing_only:3 imports bench.cli (bench.cli), a later stage than its own (bench.core)",
        "bench.methods.m:1 imports bench.report.table (bench.report), a later stage than its own (bench.methods)",
        "bench.runs.relative:1 imports bench.cli (bench.cli), a later stage than its own (bench.runs)",
    ]


def test_stages_match_the_longest_prefix():
    assert stage_of("bench.core.registry") == 0 and stage_of("bench.cli.app") == len(LAYERS) - 1
    assert stage_of("bench.methods._gan.loop") == stage_of("bench.methods")
    assert stage_of("bench.coreish") is None and stage_of("numpy") is None
