"""The statistics of one report, on real runs (three synthetic data sets of three difficulties; PCA at two sizes and a
chance-level shuffled PCA): Holm's adjustment of the DeLong tests, significance marks against a reference, average
ranks with Friedman and Nemenyi, the critical difference and its diagram."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs
from PIL import Image
from scipy.stats import friedmanchisquare

from bench.core.errors import BenchError
from bench.report.collect import runs_frame
from bench.report.ranks import critical_difference, rank_test
from bench.report.report import ReportOptions, report
from bench.report.significance import holm_adjust
from bench.report.sweep_figures import write_rank_figures
from bench.report.table import build_table
from tests.cli_helpers import bench_in_process
from tests.latex import pdflatex
from tests.report.sweep_trees import RANK_DATASETS, SHUFFLED, make_rank_tree, registered

# Demšar (JMLR 2006), Table 5(a): Nemenyi's q_0.05 for k = 2..10 classifiers.
DEMSAR_Q05 = {2: 1.960, 3: 2.343, 4: 2.569, 5: 2.728, 6: 2.850, 7: 2.949, 8: 3.031, 9: 3.102, 10: 3.164}


pytestmark = pytest.mark.xdist_group("statistics")  # one worker builds the module's `ranks_tree` once (make test -n)


@pytest.fixture(scope="module")
def ranks_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rank-runs")
    with registered():
        make_rank_tree(root)
        yield root


def holm_by_hand(p_values: list[float]) -> list[float]:
    """Holm's step-down, written out: the i-th smallest p times (m - i), running maximum, capped at 1."""
    m, order = len(p_values), np.argsort(p_values)
    adjusted, running = [0.0] * m, 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def test_holm_matches_the_textbook_step_down():
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    p_values = list(np.random.default_rng(0).uniform(0, 0.2, size=17))
    assert holm_adjust(p_values) == pytest.approx(holm_by_hand(p_values))
    assert holm_adjust([]) == []


def test_compare_reports_raw_and_holm_adjusted_p_over_all_its_tests(ranks_tree):
    text = report(ranks_tree, ReportOptions(datasets=RANK_DATASETS, fmt="csv", metrics=("auc",),
                                            compare=("pca", SHUFFLED)))
    tests = pd.read_csv(io.StringIO(text.split("\n\n")[-1]))
    assert len(tests) == 3 * 3 * 2  # 3 pairs x 3 data sets x 2 seeds: one family
    assert tests["p_holm"].to_numpy() == pytest.approx(holm_by_hand(tests["p_value"].tolist()))
    markdown = report(ranks_tree, ReportOptions(datasets=RANK_DATASETS, metrics=("auc",), compare=("pca", SHUFFLED)))
    assert "Holm's step-down adjustment across the 18 tests of this table" in markdown
    assert "| DeLong p | Holm p |" in markdown


def unmarked(cell: str) -> str:
    """A Markdown cell without its best (bold) or second (italics) emphasis."""
    if cell.startswith("**") and cell.endswith("**"):
        return cell[2:-2]
    return cell[1:-1] if cell.startswith("_") and cell.endswith("_") else cell


def test_reference_stars_exactly_the_cells_that_differ_in_every_seed(ranks_tree):
    csv = report(ranks_tree, ReportOptions(datasets=RANK_DATASETS, fmt="csv", metrics=("auc",), reference=SHUFFLED))
    tests = pd.read_csv(io.StringIO(csv.split("\n\n")[-1]))
    assert set(tests["method_a"]) == {SHUFFLED} and len(tests) == 2 * 3 * 2
    significant = tests.groupby(["dataset", "method_b"])["p_holm"].max() < 0.05
    assert significant.any() and not significant.all(), "the tree should hold both outcomes"
    text = report(ranks_tree, ReportOptions(datasets=RANK_DATASETS, metrics=("auc",), reference=SHUFFLED))
    table = text.split("\n\n")[1].splitlines()
    datasets = [re.sub(r" AUC$", "", c.strip()) for c in table[0].split("|")[2:-1]]
    labels = {"Synthetic": "synthetic", "synthetic\\_easy": "synthetic_easy", "synthetic\\_faint": "synthetic_faint"}
    for line in table[2:]:
        cells = [c.strip() for c in line.split("|")[1:-1]]
        entry = cells[0].replace("\\_", "_")
        for dataset, cell in zip(datasets, cells[1:], strict=True):
            expected = bool(significant.get((labels[dataset], entry), False))
            assert unmarked(cell).endswith("\\*") == expected, (entry, dataset, cell)
    assert f"*: AUC differs from {SHUFFLED}" in text


def test_reference_must_name_one_configuration(ranks_tree):
    with pytest.raises(BenchError, match="matches 2 entries"):
        report(ranks_tree, ReportOptions(datasets=RANK_DATASETS, metrics=("auc",), reference="pca"))


def seed_means(root: Path) -> pd.DataFrame:
    """Data sets x configurations: AUC averaged over seeds, read straight from run.json."""
    rows = [json.loads(p.read_text()) for p in root.glob("*/*/*/run.json")]
    frame = pd.DataFrame({"dataset": [r["dataset"] for r in rows], "auc": [r["metrics"]["auc"] for r in rows],
                          "config": [f"{r['method']}:{r['overrides'].get('n_components', '')}" for r in rows]})
    return frame.pivot_table(index="dataset", columns="config", values="auc", aggfunc="mean")


def test_friedman_and_nemenyi_match_the_libraries_and_demsars_formulas(ranks_tree):
    table = build_table(runs_frame(ranks_tree), RANK_DATASETS, ["auc"])
    result = rank_test(table, "auc")
    values = seed_means(ranks_tree)
    assert result.k == 3 and result.n == 3
    # the same blocks the report used, read independently from the run records
    assert np.sort(result.values.to_numpy(), axis=None) == pytest.approx(np.sort(values.to_numpy(), axis=None))
    statistic, p_value = friedmanchisquare(*(values[c] for c in values.columns))
    assert (result.friedman_statistic, result.friedman_p) == pytest.approx((statistic, p_value))
    n, k, mean_ranks = result.n, result.k, result.average.to_numpy()
    by_formula = 12 * n / (k * (k + 1)) * (np.sum(mean_ranks ** 2) - k * (k + 1) ** 2 / 4)  # Demšar eq. (1)
    assert result.friedman_statistic == pytest.approx(by_formula)
    nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(result.values.to_numpy())
    assert result.nemenyi.to_numpy() == pytest.approx(nemenyi.to_numpy())
    assert result.cd == pytest.approx(DEMSAR_Q05[3] * np.sqrt(3 * 4 / (6 * 3)), abs=1e-3)
    for a in result.average.index:  # a pair is significant exactly when its ranks differ by more than CD
        for b in result.average.index:
            if a != b:
                apart = abs(result.average[a] - result.average[b]) > result.cd
                assert apart == (result.nemenyi.loc[a, b] < result.alpha)


@pytest.mark.parametrize("k", sorted(DEMSAR_Q05))
def test_critical_difference_uses_demsars_critical_values(k):
    assert critical_difference(k, 6) == pytest.approx(DEMSAR_Q05[k] * np.sqrt(k * (k + 1) / 36), abs=1e-3)


def test_ranks_table_and_its_caption(ranks_tree):
    text = report(ranks_tree, ReportOptions(datasets=RANK_DATASETS, metrics=("auc",), ranks=True))
    assert "Friedman test: chi-square =" in text and "Nemenyi critical difference at alpha = 0.05: CD = 1.91" in text
    (best,) = [line for line in text.splitlines() if line.startswith("| pca (n\\_components=8)") and "1.00" in line]
    assert best.split("|")[-2].strip() == "1.00"


def test_ranks_need_three_methods_on_two_data_sets(ranks_tree):
    with pytest.raises(BenchError, match="at least two data sets and three methods"):
        report(ranks_tree, ReportOptions(datasets=("synthetic",), metrics=("auc",), ranks=True))
    with pytest.raises(BenchError, match="for two methods use --compare"):
        report(ranks_tree, ReportOptions(datasets=RANK_DATASETS, metrics=("auc",), ranks=True, methods=("pca",)))


def test_latex_with_ranks_and_reference_compiles(ranks_tree, tmp_path):
    tex = report(ranks_tree, ReportOptions(datasets=RANK_DATASETS, metrics=("auc", "ap"), fmt="latex",
                                           ranks=True, reference=SHUFFLED, standalone=True))
    assert r"$^{*}$" in tex and "Holm" in tex and "Friedman" in tex
    pdflatex(tex, tmp_path)


def test_the_critical_difference_diagram_renders(ranks_tree, tmp_path):
    paths = write_rank_figures(ranks_tree, list(RANK_DATASETS), tmp_path, ["auc"])
    assert sorted(p.name for p in paths) == ["synthetic-synthetic_easy-synthetic_faint_cd_auc.pdf",
                                             "synthetic-synthetic_easy-synthetic_faint_cd_auc.png"]
    pixels = np.asarray(Image.open(next(p for p in paths if p.suffix == ".png")).convert("L"))
    assert (pixels < 128).mean() > 0.002, "the diagram should draw more than a blank page"


def test_ranks_through_the_command_line(ranks_tree, tmp_path):
    datasets = ",".join(RANK_DATASETS)
    result = bench_in_process("report", "--dataset", datasets, "--runs", str(ranks_tree), "--ranks")
    assert result.returncode == 0, result.stderr
    assert "Ranks by AUC" in result.stdout and "| Average rank |" in result.stdout
    plot = bench_in_process("plot", "--dataset", datasets, "--runs", str(ranks_tree), "--ranks", "--to",
                            str(tmp_path))
    assert plot.returncode == 0, plot.stderr
    assert len(list(tmp_path.glob("*_cd_auc.p*"))) == 2
    too_few = bench_in_process("report", "--dataset", "synthetic", "--runs", str(ranks_tree), "--ranks")
    assert too_few.returncode == 2 and "at least two data sets" in too_few.stderr
