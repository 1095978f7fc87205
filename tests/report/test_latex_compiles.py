"""The generated LaTeX compiles with a real pdflatex (Debian texlive; `make test` installs it when missing):
standalone documents, and the bare tables pasted into a document that loads only booktabs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.report.latex import escape_latex, standalone_document
from bench.report.leaderboard_files import write_leaderboard
from bench.report.report import ReportOptions, report
from tests.latex import pdflatex
from tests.report.run_trees import HARD_DATASET, ODD_METHOD

REPORTED = Path(__file__).resolve().parents[2] / "results" / "reported.csv"
PAPER = "\\documentclass[twocolumn]{article}\n\\usepackage{booktabs}\n\\begin{document}\n%s\n\\end{document}\n"


def test_escape_latex_handles_every_special_character():
    assert escape_latex("a_b 100% & #1 $x {y} ~^\\") == (
        r"a\_b 100\% \& \#1 \$x \{y\} \textasciitilde{}\textasciicircum{}\textbackslash{}")


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_standalone_table_with_odd_names_compiles(tree, tmp_path, layout):
    root, _ = tree
    tex = report(root, ReportOptions(datasets=("synthetic", HARD_DATASET), fmt="latex", layout=layout,
                                     standalone=True))
    assert r"pca\_v2 100\%" in tex and r"synthetic\_hard" in tex
    pdflatex(tex, tmp_path)


def test_standalone_table_with_ci_and_delong_compiles(tree, tmp_path):
    root, _ = tree
    tex = report(root, ReportOptions(datasets=("synthetic",), fmt="latex", ci=True, standalone=True,
                                     compare=("pca", ODD_METHOD), metrics=("auc", "ap")))
    assert "DeLong" in tex
    pdflatex(tex, tmp_path)


def test_bare_table_pastes_into_a_paper_that_loads_only_booktabs(tree, tmp_path):
    root, _ = tree
    table = report(root, ReportOptions(datasets=("synthetic",), fmt="latex", metrics=("auc", "ap", "f1")))
    assert "\\documentclass" not in table and "\\multirow" not in table and "\\cline" not in table
    pdflatex(PAPER % table, tmp_path)


def test_leaderboard_tex_compiles(tree, tmp_path):
    root, _ = tree
    shutil.copy(REPORTED, tmp_path / "reported.csv")
    write_leaderboard([root], tmp_path)
    body = (tmp_path / "leaderboard.tex").read_text()
    pdflatex(standalone_document(body, width_pt=2400), tmp_path / "pdf", "leaderboard")
