"""Run records -> tidy tables: one row per run, and mean/std over seeds per configuration.

Several run trees (say, copied from other machines) merge into one frame. The same run (data set, method,
run id) found twice is kept once: the copy that finished last, ties broken by content, so the result never
depends on the order of the trees; a dropped copy whose metrics differ is named. A record whose metrics disagree
with its scores.parquet (bench.report.consistency) is left out and named.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.config import differing_values
from bench.metrics.table import ALL_METRICS, LOCALISATION_METRICS, record_metrics
from bench.report.consistency import metrics_problem
from bench.runs.record import RunRecord
from bench.runs.scan import scan_runs

CONFIG_KEYS = ("dataset", "method", "preset", "run_config", "split_id", "images_id", "image_size", "threshold_policy")
RUN_COLUMNS = ("dataset", "method", "seed", "run_id", "preset", "run_config", "split_id", "images_id", "image_size",
               "threshold_policy", "test_oracle", "selection", "overrides", "data_overrides", "data_options", "config",
               "finished_at", "commit", "folder")


def as_roots(runs: Path | str | Iterable[Path | str]) -> list[Path]:
    """One folder or several -> a list of paths."""
    if isinstance(runs, str | Path):
        return [Path(runs)]
    return [Path(r) for r in runs]


def _canonical(value: object) -> str:
    return json.dumps(value or {}, sort_keys=True, default=str)


def _row(folder: Path, record: RunRecord) -> dict:
    row = {
        "dataset": record.dataset, "method": record.method, "seed": record.seed, "run_id": record.run_id,
        "preset": record.preset, "run_config": record.config_id,
        "split_id": record.data.split_id, "images_id": record.data.images_id, "image_size": record.data.image_size,
        "threshold_policy": record.threshold_policy, "test_oracle": bool(record.test_oracle),
        "selection": record.selection, "overrides": _canonical(record.overrides),
        "data_overrides": _canonical(record.data_overrides), "data_options": _canonical(record.data.options),
        "config": _canonical(record.config),
        "finished_at": record.finished_at, "commit": record.git.get("commit"), "folder": str(folder),
    }
    metrics = record_metrics(record.metrics, record.localisation)
    row.update(metrics)
    pixel = {k: v for k, v in metrics.items() if k in LOCALISATION_METRICS and v is not None}
    row["_content"] = _canonical({**(record.metrics or {}), **pixel})
    return row


class SkippedRunWarning(UserWarning):
    """A run folder that a report leaves out (unreadable, incomplete, failed, interrupted), with the reason."""


def runs_frame(runs: Path | str | Iterable[Path | str], datasets: list[str] | None = None) -> pd.DataFrame:
    """One row per complete run under one or several run trees: identity, configuration, metrics
    (NaN where a run record lacks a metric). Every run folder left out is named in a SkippedRunWarning."""
    rows = []
    for root in as_roots(runs):
        scan = scan_runs(root, datasets)
        for skipped in scan.skipped:
            warnings.warn(SkippedRunWarning(str(skipped)), stacklevel=2)
        for folder, record in scan.runs:
            problem = metrics_problem(folder, record.metrics, record.localisation)
            if problem is not None:  # run.json is checked against scores.parquet, the source of truth (issue 28)
                warnings.warn(SkippedRunWarning(f"skipped {folder}: {problem}"), stacklevel=2)
                continue
            rows.append(_row(folder, record))
    frame = pd.DataFrame(rows, columns=[*RUN_COLUMNS, *ALL_METRICS, "_content"])
    for metric in ALL_METRICS:
        frame[metric] = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    frame = frame.sort_values(["dataset", "method", "run_id", "finished_at", "commit", "_content"],
                              na_position="first", kind="stable")
    _warn_differing_copies(frame)
    frame = frame.drop_duplicates(["dataset", "method", "run_id"], keep="last")
    frame = _drop_older_preset_values(frame)
    return frame.drop(columns="_content").sort_values(["dataset", "method", "run_config", "seed"],
                                                      kind="stable").reset_index(drop=True)


def _warn_differing_copies(frame: pd.DataFrame) -> None:
    """Name each copy of a run that is dropped although its metrics differ from the copy kept (the last in
    `frame`'s order: the one that finished last); identical copies go silently."""
    for _, copies in frame.groupby(["dataset", "method", "run_id"], sort=False):
        kept = copies.iloc[-1]
        for _, dropped in copies.iloc[:-1].iterrows():
            if dropped["_content"] != kept["_content"]:
                warnings.warn(SkippedRunWarning(
                    f"skipped {dropped['folder']}: another copy of this run with different metrics, "
                    f"{kept['folder']}, finished later (finished_at {kept['finished_at']}) and is kept"),
                    stacklevel=3)


def _drop_older_preset_values(frame: pd.DataFrame) -> pd.DataFrame:
    """Seeds of one configuration (same preset name, overrides and data) that ran with other values of a setting
    (a preset changed by a newer bench) are not averaged together: the runs of the configuration that finished last
    are kept, the others named and left out. Settings only one side records are not compared."""
    dropped: list[int] = []
    for _, group in frame.groupby(["dataset", "method", "run_config", "split_id", "images_id"], sort=False):
        if group["config"].nunique() < 2:
            continue
        newest = group.sort_values("finished_at", na_position="first", kind="stable").iloc[-1]
        current = json.loads(newest["config"])
        for index, row in group.iterrows():
            differ = [f"{key} {old!r} (kept: {new!r})"
                      for key, (old, new) in differing_values(json.loads(row["config"]), current).items()]
            if differ:
                dropped.append(index)
                warnings.warn(SkippedRunWarning(
                    f"skipped {row['folder']}: it ran preset {row['preset']!r} with other values ({', '.join(differ)})"
                    f" than the runs of the same configuration that finished last, such as {newest['folder']}; "
                    "run it again to include it"), stacklevel=3)
    return frame.drop(index=dropped)


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
    for metric in ALL_METRICS:
        named.update({f"{metric}_mean": (metric, "mean"), f"{metric}_std": (metric, "std"),
                      f"{metric}_n": (metric, "count")})
    if runs.empty:
        return pd.DataFrame(columns=[*CONFIG_KEYS, *named])
    table = runs.groupby(list(CONFIG_KEYS), dropna=False, sort=True).agg(**named).reset_index()
    for metric in ALL_METRICS:  # a metric present in some seeds only: std over those (count says how many)
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
    # The same configuration on two versions of one data set (another split, or changed images): never one row.
    keys = [(row.dataset, label) for row, label in zip(rows, chosen, strict=True)]
    chosen = [f"{label} [{_data_identity(row, rows)}]" if keys.count(key) > 1 else label
              for row, label, key in zip(rows, chosen, keys, strict=True)]
    return pd.Series(chosen, index=summary.index, dtype=object)


def _data_identity(row: object, rows: list) -> str:
    """`split 3f2a1c9e`, or `images 9e8d7c` where the split is shared by another row of the same label."""
    twins = [r for r in rows if (r.dataset, r.method, r.run_config, r.threshold_policy, r.split_id)
             == (row.dataset, row.method, row.run_config, row.threshold_policy, row.split_id)]
    if len(twins) > 1:
        return f"split {str(row.split_id)[:8]}, images {str(row.images_id)[:6]}"
    return f"split {str(row.split_id)[:8]}"
