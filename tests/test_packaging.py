"""The built wheel holds every module of bench/, methods/ and datasets/ under the `bench` import root."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_every_module(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    (wheel,) = tmp_path.glob("medad_bench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {f"bench/{p.relative_to(ROOT / 'bench')}" for p in (ROOT / "bench").rglob("*.py")}
    expected |= {f"bench/methods/{p.relative_to(ROOT / 'methods')}" for p in (ROOT / "methods").rglob("*.py")}
    expected |= {f"bench/datasets/{p.relative_to(ROOT / 'datasets')}" for p in (ROOT / "datasets").rglob("*.py")}
    missing = sorted(expected - names)
    assert not missing, f"modules missing from the wheel (add their packages to pyproject.toml): {missing}"
    site = ROOT / "bench" / "report" / "site"
    data = {f"bench/{p.relative_to(ROOT / 'bench')}" for folder in ("templates", "static")
            for p in (site / folder).iterdir()}
    assert data and not sorted(data - names), "bench site's templates/static missing (pyproject package-data)"
    lists = {f"bench/datasets/medad_lists/{p.name}" for p in (ROOT / "datasets" / "medad_lists").iterdir()}
    assert len(lists) == 5 and not sorted(lists - names), "DDAD's split lists missing (pyproject package-data)"
    assert not any(n.startswith(("methods/", "datasets/")) for n in names), "no top-level methods/datasets"
