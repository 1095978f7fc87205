"""The results table every format renders: mean, spread and rank marks per (entry, data set, metric).

An entry is one method configuration (its label says what sets it apart from the method's other configurations).
Marks: "best" and "second" per data set and metric, decided on the values as printed (rounded to `digits`) so that
ties at the printed precision share a mark; ranks are dense (two tied best -> the next value is second). Metrics
where lower is better rank ascending (bench.metrics.table).
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bench.metrics.table import HIGHER_IS_BETTER, LOCALISATION_METRICS, THRESHOLDED
from bench.report.collect import aggregate, distinguishing_labels
from bench.report.names import dataset_sort_key


@dataclasses.dataclass
class ReportTable:
    """Entries (rows) x (data set, metric) columns: means, stds, optional CI bounds, counts and marks."""

    summary: pd.DataFrame  # one row per (dataset, entry): the aggregate() row plus `entry`
    datasets: list[str]
    metrics: list[str]
    entries: list[str]
    mean: pd.DataFrame
    std: pd.DataFrame
    count: pd.DataFrame  # seeds that have the metric
    n_seeds: pd.DataFrame  # entries x datasets
    marks: pd.DataFrame  # "best" | "second" | ""
    digits: int = 3
    ci_low: pd.DataFrame | None = None
    ci_high: pd.DataFrame | None = None


def rank_marks(means: pd.DataFrame, digits: int = 3, higher_is_better: Mapping[str, bool] = HIGHER_IS_BETTER,
               groups: pd.DataFrame | None = None) -> pd.DataFrame:
    """"best"/"second"/"" per cell, per column; the metric is the column's last level. With `groups` (entries x
    data sets, e.g. the split each entry ran on), entries are ranked only against their own group: numbers from
    different test splits are not comparable. A group with fewer than two values gets no marks."""
    marks = pd.DataFrame("", index=means.index, columns=means.columns)
    for column in means.columns:
        metric = column[-1] if isinstance(column, tuple) else column
        keys = groups[column[0]] if groups is not None else pd.Series(0, index=means.index)
        for key in keys.dropna().unique():
            values = means.loc[keys == key, column].round(digits)
            if values.notna().sum() < 2:
                continue
            ranks = values.rank(method="dense", ascending=not higher_is_better.get(metric, True))
            marks.loc[ranks.index[ranks == 1], column] = "best"
            marks.loc[ranks.index[ranks == 2], column] = "second"
    return marks


def _one_per_entry(summary: pd.DataFrame) -> pd.DataFrame:
    """Where a (dataset, entry) has several splits or image sizes, keep the one with most seeds, then the
    latest, and warn: numbers from different splits must not share a cell."""
    summary = summary.sort_values(["n_seeds", "finished_at"], ascending=False, kind="stable")
    dropped = summary[summary.duplicated(["dataset", "entry"], keep="first")]
    for row in dropped.itertuples(index=False):
        warnings.warn(f"{row.dataset}/{row.entry}: runs on another split ({row.split_id}, {row.image_size} px) "
                      f"left out of the table; only one split per entry is shown", stacklevel=3)
    return summary.drop_duplicates(["dataset", "entry"], keep="first")


def build_table(runs: pd.DataFrame, datasets: Sequence[str], metrics: Sequence[str], *, digits: int = 3,
                methods: Sequence[str] | None = None,
                higher_is_better: Mapping[str, bool] = HIGHER_IS_BETTER) -> ReportTable:
    """Aggregate `runs` (from runs_frame) over seeds into the table of `datasets` x `metrics`."""
    runs = runs[runs["dataset"].isin(datasets)]
    if methods:
        runs = runs[runs["method"].isin(methods)]
    summary = aggregate(runs)
    summary["entry"] = distinguishing_labels(summary)
    summary = _one_per_entry(summary)
    datasets = sorted({*summary["dataset"]} & set(datasets), key=dataset_sort_key)
    entries = sorted(summary["entry"].unique(), key=lambda e: (e.split(" (")[0].lower(), e))
    columns = pd.MultiIndex.from_product([datasets, list(metrics)], names=["dataset", "metric"])

    def pivot(suffix: str) -> pd.DataFrame:
        frame = pd.DataFrame(np.nan, index=pd.Index(entries, name="entry"), columns=columns)
        for row in summary.itertuples(index=False):
            for metric in metrics:
                frame.loc[row.entry, (row.dataset, metric)] = getattr(row, f"{metric}_{suffix}")
        return frame

    mean = pivot("mean")
    identity = summary.assign(split=summary["split_id"].astype(str) + "@" + summary["image_size"].astype(str))
    split_groups = identity.pivot(index="entry", columns="dataset", values="split").reindex(index=entries,
                                                                                          columns=datasets)
    for dataset in datasets:
        if split_groups[dataset].nunique() > 1:
            warnings.warn(f"{dataset}: the table holds runs on {split_groups[dataset].nunique()} different splits "
                          "or image sizes; best/second are marked within each, never across", stacklevel=2)
    n_seeds = summary.pivot(index="entry", columns="dataset", values="n_seeds").reindex(index=entries,
                                                                                         columns=datasets)
    return ReportTable(summary=summary.reset_index(drop=True), datasets=datasets, metrics=list(metrics),
                       entries=entries, mean=mean, std=pivot("std"), count=pivot("n"), n_seeds=n_seeds,
                       marks=rank_marks(mean, digits, higher_is_better, groups=split_groups), digits=digits)


def threshold_note(table: ReportTable) -> str:
    """Which threshold policy the thresholded metrics use, per data set where they differ; test-oracle marked."""
    if not set(table.metrics) & set(THRESHOLDED):
        return ""
    per_dataset = {}
    for dataset in table.datasets:
        rows = table.summary[table.summary["dataset"] == dataset]
        names = sorted({f"{p} (test-oracle: threshold chosen on the test split)" if oracle else str(p)
                        for p, oracle in zip(rows["threshold_policy"], rows["test_oracle"], strict=True)})
        per_dataset[dataset] = " / ".join(names)
    if len(set(per_dataset.values())) == 1:
        return f"Thresholded metrics use threshold policy {next(iter(per_dataset.values()))}."
    listed = "; ".join(f"{policy} on {dataset}" for dataset, policy in per_dataset.items())
    return f"Thresholded metrics use threshold policy {listed}."


def localisation_note(table: ReportTable) -> str:
    """What the localisation columns measure, where the table has any."""
    if not set(table.metrics) & set(LOCALISATION_METRICS):
        return ""
    return ("Localisation metrics score the anomaly maps against the lesion masks of the test images (normal images "
            "all negative; AUPRO up to a pixel FPR of 0.3; Hit rate: the map's maximum inside the mask); \"-\": no "
            "localisation ground truth on that data set, or no anomaly maps from that method.")


def uniform_seeds(table: ReportTable) -> int | None:
    """The number of seeds when every entry on every data set has the same, else None."""
    counts = table.n_seeds.stack().dropna().astype(int)
    return int(counts.iloc[0]) if counts.nunique() == 1 else None


def seeds_note(table: ReportTable) -> str:
    """`3 seeds`, or `1-3 seeds (per entry: column Seeds)` where entries differ."""
    n = uniform_seeds(table)
    if n is not None:
        return f"{n} seed{'s' if n != 1 else ''}"
    counts = table.n_seeds.stack().dropna().astype(int)
    return f"{counts.min()}-{counts.max()} seeds (per entry: column Seeds)"


def _own(dataset: str, split_id: str) -> str:
    """` (own split)` / ` (no reference split)` where the split is not the protocol's reference (reference_splits)."""
    from bench.report.reference_splits import REFERENCE, split_status

    status = split_status(dataset, split_id)
    return "" if status in ("", REFERENCE) else f" ({status}: not comparable with the paper)"


def split_note(table: ReportTable) -> str:
    """`rsna: split 1a2b3c, 64 px` per data set: published numbers swing with the split and the size."""
    parts = []
    for dataset in table.datasets:
        rows = table.summary[table.summary["dataset"] == dataset]
        pairs = sorted({(str(s), str(n)) for s, n in zip(rows["split_id"], rows["image_size"], strict=True)})
        note = " (several splits: marks within each)" if len(pairs) > 1 else ""
        parts.append(f"{dataset}: " + ", ".join(f"split {s}{_own(dataset, s)}, {n} px" for s, n in pairs) + note)
    return "; ".join(parts)
