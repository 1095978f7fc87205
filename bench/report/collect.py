"""Run records -> tidy tables: one row per run, and mean/std over seeds per configuration."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from bench.store import iter_runs

METRICS = ("auc", "ap", "f1", "precision", "recall", "specificity")
GROUP_KEYS = ("dataset", "method", "preset", "run_config", "split_id", "image_size", "threshold_policy")


def runs_frame(runs_root: Path, datasets: list[str] | None = None) -> pd.DataFrame:
    """One row per complete run: identity, configuration key, metrics (NaN where a metric is missing)."""
    rows = []
    for folder, record in iter_runs(runs_root, datasets):
        data = record.get("data", {})
        rid = record.get("run_id", folder.name)
        row = {
            "dataset": record.get("dataset"), "method": record.get("method"), "seed": record.get("seed"),
            "preset": record.get("preset"), "run_config": rid.replace(f"-seed{record.get('seed')}", "", 1),
            "split_id": data.get("split_id"), "image_size": data.get("image_size"),
            "threshold_policy": record.get("threshold_policy"), "test_oracle": record.get("test_oracle", False),
            "selection": record.get("selection"), "finished_at": record.get("finished_at"),
            "commit": (record.get("git") or {}).get("commit"), "folder": str(folder),
        }
        metrics = record.get("metrics") or {}
        row.update({m: metrics.get(m, np.nan) for m in METRICS})
        rows.append(row)
    columns = ["dataset", "method", "seed", *GROUP_KEYS[2:], "test_oracle", "selection", "finished_at", "commit",
               "folder", *METRICS]
    frame = pd.DataFrame(rows, columns=list(dict.fromkeys(columns)))
    for metric in METRICS:
        frame[metric] = pd.to_numeric(frame[metric], errors="coerce")
    return frame


def aggregate(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and number of seeds per configuration (std is NaN for a single seed)."""
    if runs.empty:
        return pd.DataFrame(columns=[*GROUP_KEYS, "n_seeds", *[f"{m}_{s}" for m in METRICS for s in ("mean", "std")]])
    grouped = runs.groupby(list(GROUP_KEYS), dropna=False, sort=False)
    table = grouped[list(METRICS)].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    table.insert(0, "n_seeds", grouped.size())
    return table.reset_index()
