"""`bench plot --by KEY` (a metric against the swept values, one line per method, band: ± std over seeds) and
`bench plot --ranks` (the critical-difference diagram), written as PNG and PDF like every figure of `bench plot`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from bench.core.errors import BenchError
from bench.metrics.table import metric_label
from bench.report import plots
from bench.report.collect import runs_frame
from bench.report.figures import save_figure
from bench.report.names import dataset_label
from bench.report.sweep_table import ByTable, build_by_table, value_text
from bench.report.table import build_table


def by_figure(by: ByTable) -> Figure:
    """One panel per metric: mean over seeds against the key's values, a line per entry, a ± std band. Numeric
    values sit on a numeric axis; others (true/false, names) are evenly spaced."""
    table, metrics = by.table, by.table.metrics
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in by.values)
    x = np.asarray(by.values, dtype=float) if numeric else np.arange(len(by.values), dtype=float)
    with plots.style():
        width = plots.COLUMN_WIDTH_IN if len(metrics) == 1 else plots.PAGE_WIDTH_IN
        figure = Figure(figsize=(width, 2.4 + 0.13 * len(table.entries)), layout="constrained")
        axes = figure.subplots(1, len(metrics), squeeze=False).ravel()
        for ax, metric in zip(axes, metrics, strict=True):
            for entry, line in zip(table.entries, plots.line_styles(), strict=False):
                mean = table.mean.loc[entry].xs(metric, level="metric").to_numpy(dtype=float)
                std = np.nan_to_num(table.std.loc[entry].xs(metric, level="metric").to_numpy(dtype=float))
                ax.plot(x, mean, marker="o", markersize=3, label=plots.wrap(entry, 40), **line)
                ax.fill_between(x, mean - std, mean + std, color=line["color"], alpha=0.15, linewidth=0)
            ax.set(xlabel=by.key.key, ylabel=metric_label(metric))
            ax.set_xticks(x, [value_text(v) for v in by.values])
        figure.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", frameon=False,
                      ncols=1 if len(metrics) == 1 else 2)
        figure.suptitle(f"{dataset_label(by.dataset)}: by {by.key.key} (mean ± std over seeds)", fontsize=8)
    return figure


def write_by_figures(runs: Path | Sequence[Path], datasets: Sequence[str], key: str, to: Path,
                     metrics: Sequence[str]) -> list[Path]:
    """`<to>/<dataset>_by_<key>.png/.pdf` per data set; the paths written."""
    frame = runs_frame(runs, list(datasets))
    written = []
    for dataset in datasets:
        by = build_by_table(frame, dataset, key, metrics)
        written += save_figure(by_figure(by), Path(to) / f"{dataset}_by_{key.replace('.', '-')}")
    return written


def write_rank_figures(runs: Path | Sequence[Path], datasets: Sequence[str], to: Path,
                       metrics: Sequence[str]) -> list[Path]:
    """`<to>/<d1>-<d2>-..._cd_<metric>.png/.pdf`: the critical-difference diagram per metric; the paths written."""
    from bench.report.ranks import cd_figure, rank_test

    table = build_table(runs_frame(runs, list(datasets)), datasets, metrics)
    if not table.entries:
        raise BenchError(f"no complete runs for {', '.join(datasets)}")
    written = []
    for metric in metrics:
        base = Path(to) / f"{'-'.join(table.datasets)}_cd_{metric}"
        written += save_figure(cd_figure(rank_test(table, metric)), base)
    return written
