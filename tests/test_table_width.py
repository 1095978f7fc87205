"""The dry-run table and the run summary fit the terminal (`COLUMNS`): at 80 and 200 columns no line is wider,
and no number is broken over two lines (each run is one line of the table, holding its numbers whole)."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console

from bench.core.cost import CostProbe
from bench.runs.dry_run import RunEstimate, human_bytes, human_seconds, table
from bench.runs.plan import RunSpec
from tests.cli_helpers import bench_in_process

WIDTHS = (80, 200)
SECONDS = r"\d+(\.\d)? (s|min|h|d)"
BYTES = r"\d+(\.\d)? (B|KB|MB|GB)"


def assert_fits(text: str, width: int) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > width]
    assert not too_wide, f"{len(too_wide)} line(s) wider than {width}: {too_wide[:3]}"


def body_lines(text: str) -> list[str]:
    """The table's body rows (between the header rule and the bottom rule), as printed."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("┡"))
    end = next(i for i, line in enumerate(lines) if line.startswith("└"))
    return [line for line in lines[start + 1:end] if line.startswith("│")]


def first_cell(line: str) -> str:
    return line.split("│")[1].strip()


def estimate(method: str, dataset: str, seed: int, preset: str, overrides: dict[str, str]) -> RunEstimate:
    probe = CostProbe(parameters=11_490_000, seconds_per_step=3.591, steps=12_345, step="step, batch 16 at 32 px",
                      peak_memory_mb=1234.5, state_bytes=46_000_000, extra_seconds=12.0,
                      notes=("synthesis 0.02 s/batch (0 threads) vs training 3.57 s/step: training bounds it",))
    return RunEstimate(RunSpec(method, dataset, seed, preset, overrides, {}), probe, 46_500_000)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_dry_run_table_fits_its_width_with_one_line_per_run(width):
    """The widest case without probing: several data sets, presets and settings, long notes."""
    runs = [estimate(m, d, s, p, {"lr": "0.0001", "batch_size": "16"} if s else {})
            for m in ("cutpaste", "healthygan") for d in ("chestxray14", "synthetic") for s in (0, 1)
            for p in ("paper", "fast")]
    shown, notes = table(runs, "cuda:0", width)
    out = io.StringIO()
    console = Console(file=out, width=width)
    console.print(shown)
    for line in notes:
        console.print(line, highlight=False, markup=False)
    text = out.getvalue()
    assert_fits(text, width)
    rows = body_lines(text)
    assert [first_cell(line) for line in rows] == [e.spec.method for e in runs] + ["total"]
    wall, disk = human_seconds(runs[0].probe.wall_seconds), human_bytes(runs[0].disk_bytes)
    for line in rows[:-1]:
        assert wall in line and disk in line and human_bytes(1234.5 * 2**20) in line
    words = " ".join(text.split())
    assert "cutpaste (paper): step, batch 16 at 32 px; synthesis" in words  # notes under the table
    if width == 200:
        assert "params" in text and "s/step" in text and "lr=0.0001, batch_size=16" in text
        assert "left out" not in text
    else:  # low-value columns left out and named; preset + settings as a tag spelled out under the table
        assert "left out to fit 80 columns: params, s/step, steps" in words
        assert "c4: preset fast, lr=0.0001, batch_size=16" in words


@pytest.mark.parametrize("width", WIDTHS)
def test_bench_run_dry_run_fits_columns(width):
    result = bench_in_process("run", "--methods", "padim,patchcore", "--dataset", "synthetic", "--preset", "tiny",
                              "--seeds", "0,1", "--dry-run", env={"COLUMNS": str(width)})
    assert result.returncode == 0, result.stderr
    assert_fits(result.stdout, width)
    rows = body_lines(result.stdout)
    assert [first_cell(line) for line in rows] == ["padim", "patchcore", "padim", "patchcore", "total"]
    for line in rows[:-1]:  # wall, peak memory and disk whole on the run's line
        assert re.search(SECONDS, line) and len(re.findall(BYTES, line)) == 2, line
    assert re.search(SECONDS, rows[-1]) and re.search(BYTES, rows[-1])
    assert "patchcore: batch of 32" in " ".join(result.stdout.split())


@pytest.fixture(scope="module")
def runs_folder(tmp_path_factory):
    runs = tmp_path_factory.mktemp("runs")
    result = bench_in_process("run", "--methods", "pca", "--dataset", "synthetic", "--preset", "tiny", "--seeds",
                              "0,1", "--runs", str(runs))
    assert result.returncode == 0, result.stderr
    return runs


@pytest.mark.parametrize("width", WIDTHS)
def test_the_run_summary_fits_columns_with_each_runs_metrics_on_its_line(runs_folder, width):
    from bench.api import load_runs

    result = bench_in_process("run", "--methods", "pca", "--dataset", "synthetic", "--preset", "tiny", "--seeds",
                              "0,1", "--runs", str(runs_folder), env={"COLUMNS": str(width)})
    assert result.returncode == 0, result.stderr
    assert_fits(result.stdout, width)
    rows = body_lines(result.stdout)
    frame = load_runs(runs_folder).sort_values("seed")
    assert [first_cell(line) for line in rows] == ["pca", "pca"]
    for line, record in zip(rows, frame.itertuples(index=False), strict=True):
        cells = [cell.strip() for cell in line.split("│")[1:-1]]
        assert cells[1] == str(record.seed)
        for key in ("auc", "ap", "f1"):  # never left out
            assert f"{getattr(record, key):.3f}" in cells, (key, line)
        if width == 200:
            for key in ("precision", "recall", "specificity"):
                assert f"{getattr(record, key):.3f}" in cells, (key, line)
