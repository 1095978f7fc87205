"""`bench report --by KEY` and `bench plot --by KEY`: one swept `--set` key's values as columns (or the x axis).

KEY is any key a sweep can set: `data.anomaly_ratio`, `acm`, `sagan.acm`. A run's value is read from its record (the
full method config, or the data options), so runs that left the key at its default join the column of that value.
Entries are the method configurations apart from KEY (labelled as in `bench report`); runs whose method has no such
key are left out and named in the caption. One table per data set.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from bench.core.errors import BenchError
from bench.metrics.table import HIGHER_IS_BETTER, metric_label
from bench.report import latex, render
from bench.report.collect import aggregate, distinguishing_labels
from bench.report.names import dataset_label
from bench.report.table import ReportTable, rank_marks, seeds_note, threshold_note

_CONFIG_COLUMNS = ["dataset", "method", "preset", "overrides", "data_overrides", "threshold_policy"]


@dataclasses.dataclass(frozen=True)
class SweptKey:
    """A `--set` key as typed: `data.name`, `method.name` or `name`."""

    key: str
    data: bool
    method: str | None
    name: str

    @classmethod
    def parse(cls, key: str) -> SweptKey:
        if key.startswith("data."):
            return cls(key, True, None, key.removeprefix("data."))
        scope, dot, name = key.rpartition(".")
        return cls(key, False, scope if dot else None, name)

    def value(self, row: object) -> object | None:
        """This key's value in a runs_frame row; None where the run's method has no such key."""
        if self.data:
            options = json.loads(row.data_options or "{}") or json.loads(row.data_overrides)
            return options.get(self.name)
        if self.method is not None and row.method != self.method:
            return None
        return json.loads(row.config).get(self.name)

    def strip(self, runs: pd.DataFrame) -> pd.DataFrame:
        """`runs` without this key in the JSON columns that label entries."""

        def drop(text: str) -> str:
            values = json.loads(text)
            values.pop(self.name, None)
            return json.dumps(values, sort_keys=True, default=str)

        columns = ["data_overrides"] if self.data else ["overrides", "config"]
        return runs.assign(**{c: runs[c].map(drop) for c in columns})


def _sort_key(value: object) -> tuple:
    if isinstance(value, bool):
        return (1, value, "")
    if isinstance(value, int | float):
        return (0, value, "")
    return (2, 0, json.dumps(value, sort_keys=True, default=str))


def value_text(value: object) -> str:
    """`0.2`, `2` (not `2.0`), `true`, `layer1,layer2`: as it would be typed after `--set key=`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):
        return ",".join(map(value_text, value))
    return str(value)


@dataclasses.dataclass
class ByTable:
    """One data set's entries x (value, metric) table, as a ReportTable whose column groups are the values."""

    dataset: str
    key: SweptKey
    table: ReportTable  # .datasets: the value column labels, `name=value`
    values: list[object]
    left_out: list[str]  # methods without the key


def build_by_table(runs: pd.DataFrame, dataset: str, key: str, metrics: Sequence[str], *, digits: int = 3,
                   methods: Sequence[str] | None = None) -> ByTable:
    """Aggregate the runs of `dataset` over seeds per (configuration apart from `key`, value of `key`)."""
    swept = SweptKey.parse(key)
    runs = runs[runs["dataset"] == dataset]
    if methods:
        runs = runs[runs["method"].isin(methods)]
    values = pd.Series([swept.value(row) for row in runs.itertuples(index=False)], index=runs.index, dtype=object)
    left_out = sorted(set(runs.loc[values.isna(), "method"]))
    runs, values = runs[values.notna()], values[values.notna()]
    if runs.empty:
        raise BenchError(f"--by {key}: no complete run of {dataset} has {key}"
                         + (f" (methods without it: {', '.join(left_out)})" if left_out else ""))
    texts = values.map(value_text)
    ordered = sorted({value_text(v): v for v in values}.values(), key=_sort_key)
    labels = {value_text(v): f"{swept.name}={value_text(v)}" for v in ordered}
    stripped = swept.strip(runs)
    summary = pd.concat([aggregate(stripped[texts == text]).assign(column=label) for text, label in labels.items()],
                        ignore_index=True)
    summary["entry"] = _entries(summary)
    summary = _one_per_cell(summary, dataset)
    entries = sorted(summary["entry"].unique(), key=lambda e: (e.split(" (")[0].lower(), e))
    table = _pivot(summary, entries, list(labels.values()), list(metrics), digits)
    return ByTable(dataset, swept, table, ordered, left_out)


def _entries(summary: pd.DataFrame) -> pd.Series:
    """The label of each row's configuration apart from the key: one label per configuration across all values."""
    unique = summary.drop_duplicates(_CONFIG_COLUMNS).reset_index(drop=True)
    names = dict(zip(unique[_CONFIG_COLUMNS].itertuples(index=False, name=None), distinguishing_labels(unique),
                     strict=True))
    return pd.Series([names[k] for k in summary[_CONFIG_COLUMNS].itertuples(index=False, name=None)],
                     index=summary.index, dtype=object)


def _one_per_cell(summary: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """Where an (entry, value) ran on several splits, keep the one with most seeds, then the latest, and warn."""
    summary = summary.sort_values(["n_seeds", "finished_at"], ascending=False, kind="stable")
    for row in summary[summary.duplicated(["entry", "column"])].itertuples(index=False):
        warnings.warn(f"{dataset}/{row.entry} at {row.column}: the runs of configuration {row.run_config} (split "
                      f"{row.split_id}, {row.image_size} px, {row.n_seeds} seed(s)) left out; one configuration per "
                      "cell (the one with most seeds, then the latest)", stacklevel=3)
    return summary.drop_duplicates(["entry", "column"]).reset_index(drop=True)


def _pivot(summary: pd.DataFrame, entries: list[str], columns: list[str], metrics: list[str],
           digits: int) -> ReportTable:
    index = pd.Index(entries, name="entry")
    grid = pd.MultiIndex.from_product([columns, metrics], names=["dataset", "metric"])

    def frame(suffix: str) -> pd.DataFrame:
        out = pd.DataFrame(np.nan, index=index, columns=grid)
        for row in summary.itertuples(index=False):
            for metric in metrics:
                out.loc[row.entry, (row.column, metric)] = getattr(row, f"{metric}_{suffix}")
        return out

    n_seeds = summary.pivot(index="entry", columns="column", values="n_seeds").reindex(index=entries, columns=columns)
    splits = summary.assign(split=summary["split_id"].astype(str) + "@" + summary["image_size"].astype(str))
    groups = splits.pivot(index="entry", columns="column", values="split").reindex(index=entries, columns=columns)
    mean = frame("mean")
    return ReportTable(summary=summary, datasets=columns, metrics=metrics, entries=entries, mean=mean,
                       std=frame("std"), count=frame("n"), n_seeds=n_seeds,
                       marks=rank_marks(mean, digits, HIGHER_IS_BETTER, groups=groups), digits=digits)


def caption(by: ByTable, fmt: str) -> str:
    """Metrics, data set, key, seeds, threshold policy, marks, splits per value, methods left out."""
    table = by.table
    metrics = ", ".join(metric_label(m) for m in table.metrics)
    bold, second = render.MARK_WORDS[fmt]
    notes = dataclasses.replace(table, datasets=[by.dataset])
    splits = {}
    for column in table.datasets:
        rows = table.summary[table.summary["column"] == column]
        splits[column] = ", ".join(sorted({f"split {s}, {n} px" for s, n in zip(rows["split_id"], rows["image_size"],
                                                                                  strict=True)}))
    split_text = (next(iter(splits.values())) if len(set(splits.values())) == 1
                  else "; ".join(f"{c}: {s}" for c, s in splits.items()))
    parts = [f"{metrics} on {dataset_label(by.dataset)} by {by.key.key} (one column per value): mean ± std over "
             f"{seeds_note(table)}.", threshold_note(notes), f"Best per column in {bold}, second {second}.",
             f"({dataset_label(by.dataset)}: {split_text})"]
    if by.left_out:
        parts.append(f"Left out (no {by.key.key}): {', '.join(by.left_out)}.")
    return " ".join(p for p in parts if p)


def display_frames(by: ByTable, *, pm: str, layout: str = "rows") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(cells, marks) as printed: value columns, metric labels (no metric level for one metric)."""
    table = by.table
    cells, marks = render.cell_frame(table, pm=pm), table.marks.copy()
    frames = []
    for frame in (cells, marks):
        frame = frame.rename(columns=metric_label, level=1)
        if len(table.metrics) == 1:
            frame = frame.droplevel(1, axis=1)
        frame.index.name = None
        frame.columns.names = [None] * frame.columns.nlevels
        frames.append(frame.T if layout == "columns" else frame)
    return frames[0], frames[1]


def tidy_frame(by: ByTable) -> pd.DataFrame:
    """One row per (entry, value, metric) with raw numbers, for CSV."""
    table, rows = by.table, []
    values = dict(zip([f"{by.key.name}={value_text(v)}" for v in by.values], by.values, strict=True))
    for row in table.summary.itertuples(index=False):
        for metric in table.metrics:
            column = (row.column, metric)
            rows.append({"dataset": by.dataset, "method": row.method, "entry": row.entry, "key": by.key.key,
                         "value": value_text(values[row.column]), "metric": metric,
                         "mean": table.mean.loc[row.entry, column], "std": table.std.loc[row.entry, column],
                         "n": int(table.count.loc[row.entry, column]), "n_seeds": int(row.n_seeds),
                         "mark": table.marks.loc[row.entry, column], "split_id": row.split_id,
                         "image_size": row.image_size, "threshold_policy": row.threshold_policy,
                         "seeds": row.seeds})
    return pd.DataFrame(rows)


def render_by(by: ByTable, fmt: str, *, layout: str = "rows") -> str:
    """The table in `fmt` (LaTeX without the document around it)."""
    if fmt == "csv":
        return tidy_frame(by).to_csv(index=False, lineterminator="\n")
    cells, marks = display_frames(by, pm=r"$\pm$" if fmt == "latex" else "±", layout=layout)
    text = caption(by, fmt)
    if fmt == "latex":
        label = f"tab:bench-{by.dataset}-by-{by.key.key}".replace("_", "-").replace(".", "-")
        return latex.latex_table(cells, marks, text, label=label)
    if fmt == "html":
        return render.html_table(cells, marks, text, uuid=f"bench-by-{by.dataset}")
    return f"{text}\n\n{render.markdown_table(cells, marks, index_header='method' if layout == 'rows' else '')}"


def width_pt(by: ByTable, layout: str = "rows") -> int:
    """The printed width of the table (for a standalone document)."""
    return latex.estimate_width_pt(display_frames(by, pm="+-", layout=layout)[0])
