"""The leaderboard: idempotent, merges run trees, never prints 0 for a missing metric, picks configurations
without the test split, and sits beside the papers' numbers."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bench.report.leaderboard import NOT_REPRODUCED, REPRODUCED
from bench.report.leaderboard_files import FILES, write_leaderboard
from bench.report.reported import load_reported, main_table
from tests.report.run_trees import copy_run

RESULTS = Path(__file__).resolve().parents[2] / "results"


def board(runs: list[Path], to: Path, reported: Path = RESULTS / "reported.csv") -> dict[str, bytes]:
    to.mkdir(parents=True, exist_ok=True)
    write_leaderboard(runs, to, reported)
    return {name: (to / name).read_bytes() for name in FILES}


def csv_rows(files: dict[str, bytes]) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(files["leaderboard.csv"]), keep_default_na=False)


def test_same_runs_give_byte_identical_files_from_any_path(tree, tmp_path):
    root, _ = tree
    first = board([root], tmp_path / "a")
    assert board([root], tmp_path / "a") == first
    moved = tmp_path / "elsewhere" / "runs"
    shutil.copytree(root, moved)
    assert board([moved], tmp_path / "b") == first


def test_two_trees_merge_like_one_tree_in_either_order(tree, tmp_path):
    root, folders = tree
    every = [f for group in folders.values() for f in group]
    for i, folder in enumerate(every):  # machine A gets even, B odd runs, and both got the first one
        copy_run(folder, tmp_path / ("A" if i % 2 == 0 else "B"))
    copy_run(every[0], tmp_path / "B")
    whole = board([root], tmp_path / "whole")
    assert board([tmp_path / "A", tmp_path / "B"], tmp_path / "ab") == whole
    assert board([tmp_path / "B", tmp_path / "A"], tmp_path / "ba") == whole


def test_a_missing_metric_shows_a_dash_never_zero(tree, tmp_path):
    _, folders = tree
    copy_run(folders["odd"][0], tmp_path / "runs", edit=lambda record: record["metrics"].pop("recall"))
    files = board([tmp_path / "runs"], tmp_path / "out")
    rows = csv_rows(files)
    row = rows[rows["status"] == REPRODUCED].iloc[0]
    assert row["recall_mean"] == "" and row["precision_mean"] != ""
    lines = files["leaderboard.md"].decode().splitlines()
    (line,) = [line for line in lines if "pca\\_v2 100%" in line]
    (header,) = [[c.strip() for c in line.split("|")] for line in lines if line.startswith("| Data set")]
    cells = [c.strip() for c in line.split("|")]
    assert cells[header.index("Recall")] == "-"


def test_paper_configuration_wins_over_more_seeds(tree, tmp_path):
    root, folders = tree
    rows = csv_rows(board([root], tmp_path))
    (pca,) = rows[(rows["dataset"] == "synthetic") & (rows["method"] == "pca")].itertuples()
    assert int(pca.n_seeds) == len(folders["pca"]) < len(folders["pca4"])
    assert "n_components" not in pca.overrides


def test_with_no_runs_only_the_papers_rows_marked_not_reproduced(tmp_path):
    (tmp_path / "no-runs").mkdir()
    files = board([tmp_path / "no-runs"], tmp_path / "out")
    rows = csv_rows(files)
    expected = main_table(load_reported(RESULTS / "reported.csv"))
    assert len(rows) == len(expected) == 37  # HealthyGAN 7 methods x 2 data sets; SAGAN 8 x 3, no AMAE on LAG
    assert set(rows["status"]) == {NOT_REPRODUCED}
    assert NOT_REPRODUCED in files["leaderboard.md"].decode()


def test_reported_number_and_difference_beside_ours(tree, tmp_path):
    root, folders = tree
    reported = tmp_path / "reported.csv"
    reported.write_text("paper,table,dataset,method,paper_method,setting,metric,value,reported_as,reported_value\n"
                        "Test,Table 9,synthetic,pca,PCA,,auc,0.5,percent,50.0\n")
    rows = csv_rows(board([root], tmp_path / "out", reported))
    (pca,) = rows[(rows["dataset"] == "synthetic") & (rows["method"] == "pca")].itertuples()
    assert float(pca.auc_reported) == 0.5
    assert float(pca.auc_diff) == pytest.approx(float(pca.auc_mean) - 0.5, abs=1e-5)
    assert pca.source == "Test Table 9"


def test_reported_csv_holds_fractions_with_the_papers_units_noted():
    reported = load_reported(RESULTS / "reported.csv")
    assert reported["value"].between(0, 1).all()
    percent = reported[reported["reported_as"] == "percent"]
    assert set(percent["paper"]) == {"SAGAN"} and set(reported.loc[reported["reported_as"] == "fraction", "paper"]) \
        == {"HealthyGAN"}
    assert (percent["reported_value"].astype(float) / 100 - percent["value"]).abs().max() < 1e-9
    sagan_rsna_auc = reported.query("method == 'sagan' and dataset == 'rsna' and metric == 'auc' and setting == ''")
    assert sagan_rsna_auc["value"].tolist() == [0.9245]


def test_committed_leaderboard_lists_every_reported_row():
    committed = pd.read_csv(RESULTS / "leaderboard.csv", keep_default_na=False)
    expected = main_table(load_reported(RESULTS / "reported.csv"))
    assert set(zip(expected["dataset"], expected["method"], strict=True)) <= set(
        zip(committed["dataset"], committed["method"], strict=True))
