"""`bench leaderboard`: results/leaderboard.md, .csv and .tex, one row per (data set, method), our numbers beside
the papers'. Idempotent: the same run records give byte-identical files (no clocks, no paths; sorted rows), and
run trees copied from several machines merge (see collect.runs_frame)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from bench.metrics.table import ALL_METRICS, LOCALISATION_METRICS, METRICS
from bench.report.collect import aggregate, runs_frame
from bench.report.names import dataset_sort_key
from bench.report.reference_splits import comparable_with_paper, split_status

RULE = ("one configuration per (data set, method), chosen without looking at any test result, by these "
        "criteria in turn: preset `paper`; no `--set` overrides of the method; no data overrides; a threshold "
        "policy that is not test-oracle; the most seeds; the most recent run.")
REPRODUCED, NOT_REPRODUCED = "reproduced", "not reproduced yet"
CONFIG_COLUMNS = ("n_seeds", "seeds", "split_id", "image_size", "preset", "overrides", "data_overrides",
                  "threshold_policy", "test_oracle", "date", "commit")


def select_configurations(summary: pd.DataFrame) -> pd.DataFrame:
    """The aggregate() row of each (dataset, method) that RULE picks."""
    if summary.empty:
        return summary
    ranked = summary.assign(_paper=summary["preset"] == "paper", _plain=summary["overrides"] == "{}",
                            _plain_data=summary["data_overrides"] == "{}",
                            _fair=~summary["test_oracle"].astype(bool))
    order = ["_paper", "_plain", "_plain_data", "_fair", "n_seeds", "finished_at"]
    ranked = ranked.sort_values(["dataset", "method", *order, "run_config"],
                                ascending=[True, True, *[False] * len(order), True], kind="stable")
    return ranked.drop_duplicates(["dataset", "method"], keep="first").drop(columns=order[:4])


def _overrides_text(row: pd.Series) -> str:
    parts = [f"{k}={v}" for k, v in json.loads(row["overrides"]).items()]
    parts += [f"data.{k}={v}" for k, v in json.loads(row["data_overrides"]).items()]
    return " ".join(parts)


def _ours(chosen: pd.DataFrame) -> pd.DataFrame:
    """Our side of the leaderboard: metrics and the provenance of each chosen configuration."""
    metric_columns = [f"{m}_{s}" for m in ALL_METRICS for s in ("mean", "std", "n")]
    columns = ["dataset", "method", *metric_columns, *CONFIG_COLUMNS]
    if chosen.empty:
        return pd.DataFrame(columns=columns)
    ours = chosen.copy()
    ours["overrides"] = [_overrides_text(row) for _, row in chosen.iterrows()]
    ours["date"] = chosen["finished_at"].astype(str).str[:10]
    ours["commit"] = [",".join(c[:7] for c in str(cs).split(",") if c) for cs in chosen["commits"]]
    return ours[columns]


def leaderboard_frame(runs: Path | Sequence[Path], reported_main: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, method) in runs or in the papers' main tables: status, our mean/std/n per metric,
    the reported value and our difference, and the configuration's provenance."""
    ours = _ours(select_configurations(aggregate(runs_frame(runs))))
    ours["status"] = REPRODUCED
    paper = reported_main.rename(columns={m: f"{m}_reported" for m in METRICS})
    frame = ours.merge(paper, on=["dataset", "method"], how="outer")
    frame["status"] = frame["status"].fillna(NOT_REPRODUCED)
    # ours minus the paper's only on the paper's split (reference_splits): an own split is another experiment
    frame["split_status"] = [split_status(d, s) for d, s in zip(frame["dataset"], frame["split_id"], strict=True)]
    comparable = frame["split_status"].map(comparable_with_paper).astype(bool)
    for metric in ALL_METRICS:
        for column in (f"{metric}_mean", f"{metric}_reported"):
            frame[column] = pd.to_numeric(frame.get(column, np.nan), errors="coerce")
        frame[f"{metric}_diff"] = (frame[f"{metric}_mean"] - frame[f"{metric}_reported"]).where(comparable)
    frame["_dataset"] = frame["dataset"].map(dataset_sort_key)
    frame["_name"] = frame["method"].str.lower()
    frame = frame.sort_values(["_dataset", "status", "auc_mean", "auc_reported", "_name"],
                              ascending=[True, False, False, False, True], na_position="last", kind="stable")
    columns = ["dataset", "method", "status", *[f"{m}_{s}" for m in board_metrics(frame)
                                                  for s in ("mean", "std", "n", "reported", "diff")],
               *[c for c in CONFIG_COLUMNS if c != "data_overrides"], "split_status", "source", "paper_method"]
    return frame.reindex(columns=columns).reset_index(drop=True)


def board_metrics(board: pd.DataFrame) -> tuple[str, ...]:
    """The metrics a leaderboard shows: every image metric, and each localisation metric that some row has."""
    shown = [m for m in LOCALISATION_METRICS if f"{m}_mean" in board and board[f"{m}_mean"].notna().any()]
    return (*METRICS, *shown)
