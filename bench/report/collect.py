"""Run records -> tidy tables: one row per run, and mean/std over seeds per configuration.

Several run trees (say, copied from other machines) merge into one frame. The same run (data set, method,
run id) found twice is kept once: the copy that finished last, ties broken by content, so the result never
depends on the order of the trees.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from bench.metric_table import METRICS
from bench.store import iter_runs

CONFIG_KEYS = ("dataset", "method", "preset", "run_config", "split_id", "image_size", "threshold_policy")
RUN_COLUMNS = ("dataset", "method", "seed", "run_id", "preset", "run_config", "split_id", "image_size",
               "threshold_policy", "test_oracle", "selection", "overrides", "data_overrides", "config",
               "finished_at", "commit", "folder")


def as_roots(runs: Path | str | Iterable[Path | str]) -> list[Path]:
    """One folder or several -> a list of paths."""
    if isinstance(runs, str | Path):
        return [Path(runs)]
    return [Path(r) for r in runs]


def _canonical(value: object) -> str:
    return json.dumps(value or {}, sort_keys=True, default=str)


def _row(folder: Path, record: dict) -> dict:
    data = record.get("data") or {}
    rid = record.get("run_id", folder.name)
    seed = record.get("seed")
    row = {
        "dataset": record.get("dataset"), "method": record.get("method"), "seed": seed, "run_id": rid,
        "preset": record.get("preset"), "run_config": rid.replace(f"-seed{seed}", "", 1),
        "split_id": data.get("split_id"), "image_size": data.get("image_size"),
        "threshold_policy": record.get("threshold_policy"), "test_oracle": bool(record.get("test_oracle", False)),
        "selection": record.get("selection"), "overrides": _canonical(record.get("overrides")),
        "data_overrides": _canonical(record.get("data_overrides")), "config": _canonical(record.get("config")),
        "finished_at": record.get("finished_at"), "commit": (record.get("git") or {}).get("commit"),
        "folder": str(folder),
    }
    metrics = record.get("metrics") or {}
    row.update({m: metrics.get(m) for m in METRICS})
    row["_content"] = _canonical(metrics)
    return row


def runs_frame(runs: Path | str | Iterable[Path | str], datasets: list[str] | None = None) -> pd.DataFrame:
    """One row per complete run under one or several run trees: identity, configuration, metrics
    (NaN where a run record lacks a metric)."""
    rows = [_row(folder, record) for root in as_roots(runs) for folder, record in iter_runs(root, datasets)]
    frame = pd.DataFrame(rows, columns=[*RUN_COLUMNS, *METRICS, "_content"])
    for metric in METRICS:
        frame[metric] = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    frame = frame.sort_values(["dataset", "method", "run_id", "finished_at", "commit", "_content"],
                              na_position="first", kind="stable")
    frame = frame.drop_duplicates(["dataset", "method", "run_id"], keep="last")
    return frame.drop(columns="_content").sort_values(["dataset", "method", "run_config", "seed"],
                                                      kind="stable").reset_index(drop=True)


def _join_sorted(values: pd.Series) -> str:
    return ",".join(sorted({str(v) for v in values.dropna()}))


def aggregate(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean, std and count of each metric per configuration, with n_seeds, the seeds, the run folders, the
    latest finish time and the commits (std is NaN for a single seed; a metric no run has stays NaN)."""
    named: dict[str, tuple[str, object]] = {"n_seeds": ("seed", "size"), "seeds": ("seed", _join_sorted),
                                            "test_oracle": ("test_oracle", "any"),
                                            "overrides": ("overrides", "first"),
                                            "data_overrides": ("data_overrides", "first"),
                                            "config": ("config", "first"), "selection": ("selection", "first"),
                                            "finished_at": ("finished_at", "max"), "commits": ("commit", _join_sorted),
                                            "folders": ("folder", list)}
    for metric in METRICS:
        named.update({f"{metric}_mean": (metric, "mean"), f"{metric}_std": (metric, "std"),
                      f"{metric}_n": (metric, "count")})
    if runs.empty:
        return pd.DataFrame(columns=[*CONFIG_KEYS, *named])
    table = runs.groupby(list(CONFIG_KEYS), dropna=False, sort=True).agg(**named).reset_index()
    for metric in METRICS:  # a metric present in some seeds only: std over those (count says how many)
        table.loc[table[f"{metric}_n"] < 2, f"{metric}_std"] = np.nan
    return table


def _traits(row: object, *, full: bool) -> dict[str, object]:
    """What may set a configuration apart: preset, the `--set` overrides (or, `full`, the whole config), data
    overrides and the threshold policy."""
    trait: dict[str, object] = {"preset": row.preset}
    trait.update(json.loads(row.config if full else row.overrides))
    trait.update({f"data.{k}": v for k, v in json.loads(row.data_overrides).items()})
    trait["threshold"] = row.threshold_policy
    return trait


def distinguishing_labels(summary: pd.DataFrame) -> pd.Series:
    """A readable label per configuration row: the method name, plus what sets it apart from the method's
    other configurations in `summary`: its preset, `--set` overrides, data overrides and threshold policy where
    these differ (`pca (n_components=4)`). Where that leaves two configurations alike, the whole config counts."""
    rows = list(summary.itertuples(index=False))

    def labels(full: bool) -> list[str]:
        traits = [_traits(row, full=full) for row in rows]
        out = []
        for row, trait in zip(rows, traits, strict=True):
            siblings = [t for t, r in zip(traits, rows, strict=True) if r.method == row.method]
            varying = [k for k in trait if len({_canonical(t.get(k)) for t in siblings}) > 1]
            parts = [str(trait[k]) if k in ("preset", "threshold") else f"{k}={trait[k]}" for k in varying]
            out.append(f"{row.method} ({', '.join(parts)})" if parts else row.method)
        return out

    short, full = labels(False), labels(True)
    keys = [(row.dataset, label) for row, label in zip(rows, short, strict=True)]
    chosen = [f if keys.count(k) > 1 else s for s, f, k in zip(short, full, keys, strict=True)]
    return pd.Series(chosen, index=summary.index, dtype=object)
