"""Sweeps through the `bench` command line, as a user runs them: one command runs the grid, a second one skips
every point, `bench report --by` lays the points out and its LaTeX compiles, `bench plot --by` draws them. The
commands run through `bench.cli.main` in this process (tests.cli_helpers; what a fresh process adds is not the
point here); bad sweep values go through the installed script in a subprocess (exit 2, one line)."""

from __future__ import annotations

import json

import pytest

from tests.cli_helpers import bench, bench_in_process
from tests.latex import pdflatex

# The synthetic data set is generated into the cache (no --root), one folder per generation setting: each anomaly
# ratio gets its own images and split.
PCA_SMOKE = ("run", "--methods", "pca", "--dataset", "synthetic", "--preset", "smoke")
SMALL = ["--set", "data.n_normal=30", "--set", "data.unlabeled_size=10", "--set", "data.n_val=6",
         "--set", "data.n_test=10", "--set", "data.generate_size=64", "--set", "data.size=32"]


pytestmark = pytest.mark.xdist_group("sweep-cli")  # one worker builds the module's `swept` once (make test -n)


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A 2 x 2 grid (n_components x anomaly ratio) of PCA runs from one command, and that command's output."""
    runs = tmp_path_factory.mktemp("sweep-cli") / "runs"
    result = bench_in_process(*PCA_SMOKE, "--runs", str(runs), "--device", "cpu", "--set", "n_components=2,4",
                              "--set", "data.anomaly_ratio=0.2,0.6", *SMALL, env={"COLUMNS": "200"})  # read whole
    assert result.returncode == 0, result.stderr
    return runs, result


def test_one_command_runs_every_point_of_the_grid_into_its_own_folder(swept):
    runs, result = swept
    assert "sweep: 4 points, 4 runs" in result.stdout  # the grid, listed before it starts
    folders = sorted(runs.glob("synthetic/pca/*/run.json"))
    assert len(folders) == 4
    records = [json.loads(f.read_text()) for f in folders]
    assert sorted((r["overrides"]["n_components"], r["data_overrides"]["anomaly_ratio"]) for r in records) == [
        ("2", "0.2"), ("2", "0.6"), ("4", "0.2"), ("4", "0.6")]
    assert len({r["data"]["split_id"] for r in records}) == 2  # each ratio its own data
    assert all(r["data"]["counts"]["train_unlabeled"] for r in records)
    assert "n_components=4, data.anomaly_ratio=0.6" in result.stdout  # each run's setting in the summary


def test_the_same_command_again_skips_every_point(swept):
    runs, _ = swept
    again = bench_in_process(*PCA_SMOKE, "--runs", str(runs), "--device", "cpu", "--set", "n_components=2,4",
                             "--set", "data.anomaly_ratio=0.2,0.6", *SMALL)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("done before") == 4
    assert len(list(runs.glob("synthetic/pca/*/run.json"))) == 4


def test_a_single_point_run_alone_is_the_same_run(swept):
    runs, _ = swept
    alone = bench_in_process(*PCA_SMOKE, "--runs", str(runs), "--device", "cpu", "--set", "n_components=4",
                             "--set", "data.anomaly_ratio=0.2", *SMALL)
    assert alone.returncode == 0, alone.stderr
    assert "sweep:" not in alone.stdout and "done before" in alone.stdout


def test_report_by_the_swept_data_key(swept, tmp_path):
    runs, _ = swept
    result = bench_in_process("report", "--dataset", "synthetic", "--runs", str(runs), "--by", "data.anomaly_ratio",
                              "--metrics", "auc")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [c.strip() for c in lines[2].split("|")[1:-1]] == ["method", "anomaly\\_ratio=0.2", "anomaly\\_ratio=0.6"]
    assert {line.split("|")[1].strip() for line in lines[4:] if line} == {"pca (n\\_components=2)",
                                                                          "pca (n\\_components=4)"}
    tex = bench_in_process("report", "--dataset", "synthetic", "--runs", str(runs), "--by", "n_components",
                           "--format", "latex", "--standalone", "--metrics", "auc,ap")
    assert tex.returncode == 0, tex.stderr
    assert "n\\_components=2" in tex.stdout and "n\\_components=4" in tex.stdout
    pdflatex(tex.stdout, tmp_path)


def test_plot_by_writes_the_line_plot(swept, tmp_path):
    runs, _ = swept
    result = bench_in_process("plot", "--dataset", "synthetic", "--runs", str(runs), "--by", "data.anomaly_ratio",
                              "--to", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["synthetic_by_data-anomaly_ratio.pdf",
                                                          "synthetic_by_data-anomaly_ratio.png"]


def test_an_ablation_grid_from_one_command_and_its_table(tmp_path):
    """An ablation-shaped 2 x 2 grid (a switch x a size) from one command; --by the switch: a column per value."""
    runs = tmp_path / "runs"
    result = bench_in_process(*PCA_SMOKE, "--runs", str(runs), "--device", "cpu", "--set", "whiten=true,false",
                              "--set", "n_components=2,4", *SMALL)
    assert result.returncode == 0, result.stderr
    assert "sweep: 4 points, 4 runs" in result.stdout
    report = bench_in_process("report", "--dataset", "synthetic", "--runs", str(runs), "--by", "whiten",
                              "--metrics", "auc")
    assert report.returncode == 0, report.stderr
    header = [c.strip() for c in report.stdout.splitlines()[2].split("|")[1:-1]]
    assert header == ["method", "whiten=false", "whiten=true"]
    assert len([line for line in report.stdout.splitlines()[4:] if line.startswith("| pca")]) == 2


def test_a_three_point_ratio_sweep_and_its_latex_table(tmp_path):
    runs = tmp_path / "runs"
    result = bench_in_process(*PCA_SMOKE, "--runs", str(runs), "--device", "cpu",
                              "--set", "data.anomaly_ratio=0.6,0.2,0.4", *SMALL)
    assert result.returncode == 0, result.stderr
    assert "sweep: 3 points, 3 runs" in result.stdout
    tex = bench_in_process("report", "--dataset", "synthetic", "--runs", str(runs), "--by", "data.anomaly_ratio",
                           "--metrics", "ap,auc", "--format", "latex", "--standalone")
    assert tex.returncode == 0, tex.stderr
    header = next(line for line in tex.stdout.splitlines() if "multicolumn" in line)
    assert header.index("=0.2") < header.index("=0.4") < header.index("=0.6")  # values in order, not run order
    pdflatex(tex.stdout, tmp_path / "tex")


def test_bad_sweep_values_stop_before_anything_runs(tmp_path):
    result = bench("run", "--methods", "pca", "--dataset", "synthetic", "--runs", str(tmp_path / "runs"),
                   "--set", "n_components=2,-4", *SMALL)
    assert result.returncode == 2 and "n_components" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_data_sweep_through_ray_writes_the_local_runs(tmp_path):
    pytest.importorskip("ray", reason="the ray extra is part of the test extras; install it")
    args = ["--methods", "pca", "--dataset", "synthetic", "--preset", "smoke", "--device", "cpu",
            "--set", "data.anomaly_ratio=0.2,0.6", *SMALL]
    local = bench("run", *args, "--runs", str(tmp_path / "local"))
    remote = bench("run", *args, "--runs", str(tmp_path / "ray"), "--executor", "ray")
    assert local.returncode == 0 and remote.returncode == 0, remote.stderr
    names = {p.relative_to(tmp_path / "local") for p in (tmp_path / "local").glob("synthetic/pca/*/scores.parquet")}
    assert len(names) == 2
    assert names == {p.relative_to(tmp_path / "ray") for p in (tmp_path / "ray").glob("synthetic/pca/*/scores.parquet")}
