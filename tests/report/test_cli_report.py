"""The report, plot and leaderboard commands are thin shells: options reach bench.report, errors exit 2."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from bench.cli import app

RESULTS = Path(__file__).resolve().parents[2] / "results"


def test_report_latex_to_stdout(tree):
    root, _ = tree
    result = CliRunner().invoke(app, ["report", "--dataset", "synthetic,synthetic_hard", "--runs", str(root),
                                      "--format", "latex", "--metrics", "auc,ap", "--compare", "pca,pca_v2 100%"])
    assert result.exit_code == 0, result.output
    assert result.output.count("\\begin{tabular}") == 2 and "\\toprule" in result.output


def test_plot_and_leaderboard_write_their_files(tree, tmp_path):
    root, _ = tree
    runner = CliRunner()
    result = runner.invoke(app, ["plot", "--dataset", "synthetic_hard", "--runs", str(root), "--to",
                                 str(tmp_path / "figures"), "--examples", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "figures" / "synthetic_hard_roc.pdf").stat().st_size > 0
    shutil.copy(RESULTS / "reported.csv", tmp_path)
    (tmp_path / "empty").mkdir()  # a second tree with no runs yet merges as nothing
    result = runner.invoke(app, ["leaderboard", "--runs", str(root), "--runs", str(tmp_path / "empty"),
                                 "--to", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "synthetic\\_hard" in (tmp_path / "leaderboard.md").read_text()


def test_bad_format_exits_2_with_one_line(tree):
    root, _ = tree
    bench = Path(sys.executable).parent / "bench"
    result = subprocess.run([str(bench), "report", "--dataset", "synthetic", "--runs", str(root), "--format",
                             "docx"], capture_output=True, text=True)
    assert result.returncode == 2 and "--format must be one of" in result.stderr
