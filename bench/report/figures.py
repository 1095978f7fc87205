"""`bench plot`: every figure of one data set from its run records, written as PNG and PDF.

Files: `<to>/<dataset>_roc`, `_pr` (all configurations on one axes each), `_scores` (histograms per configuration)
and `_examples` (the qualitative grid, when any run saved sample maps), each `.png` and `.pdf`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from bench.core.errors import BenchError
from bench.core.files import atomic_write
from bench.metrics.table import METRICS
from bench.report import curves, examples, plots
from bench.report.collect import runs_frame
from bench.report.render import format_value
from bench.report.table import ReportTable, build_table

FORMATS = ("png", "pdf")


def _by_seed(table: ReportTable, entry: str, runs_by_folder: dict[str, int]) -> list[str]:
    (folders,) = table.summary.loc[table.summary["entry"] == entry, "folders"]
    return sorted(folders, key=lambda f: runs_by_folder[f])


def dataset_figures(runs: Path | Sequence[Path], dataset: str, *, per_class: int = 3) -> dict[str, Figure]:
    """The figures of `dataset` by name (roc, pr, scores and, where sample maps exist, examples)."""
    frame = runs_frame(runs, [dataset])
    table = build_table(frame, [dataset], METRICS)
    if not table.entries:
        raise BenchError(f"no complete runs for {dataset}; run `bench run --dataset {dataset}` first")
    return table_figures(table, frame, dataset, per_class=per_class)


def table_figures(table: ReportTable, frame: pd.DataFrame, dataset: str, *, per_class: int = 3
                  ) -> dict[str, Figure]:
    """dataset_figures from a table and its runs_frame already at hand (`bench site` reads the runs once)."""
    seeds = dict(zip(frame["folder"], frame["seed"], strict=True))
    folders = {entry: _by_seed(table, entry, seeds) for entry in table.entries}
    scores = {entry: [curves.load_test_scores(f) for f in folders[entry]] for entry in table.entries}

    def legend(metric: str) -> list[str]:
        return [format_value(table.mean.loc[e, (dataset, metric)], table.std.loc[e, (dataset, metric)])
                for e in table.entries]

    with plots.style():
        figures = {
            "roc": plots.roc_figure([curves.roc(e, scores[e]) for e in table.entries], legend("auc")),
            "pr": plots.pr_figure([curves.precision_recall(e, scores[e]) for e in table.entries], legend("ap"),
                                  curves.prevalence([s for runs_ in scores.values() for s in runs_])),
            "scores": plots.histogram_figure([
                (f"{e} (seed {seeds[folders[e][0]]})",
                 scores[e][0].loc[scores[e][0]["label"] == 0, "score"].to_numpy(),
                 scores[e][0].loc[scores[e][0]["label"] == 1, "score"].to_numpy()) for e in table.entries]),
        }
        samples = [s for e in table.entries if (s := examples.load_samples(e, folders[e][0])) is not None]
        if samples:
            figures["examples"] = examples.examples_figure(samples, per_class)
    return figures


def save_figure(figure: Figure, base: Path) -> list[Path]:
    """`base`.png and `base`.pdf, written atomically; PDFs carry no creation date, so reruns give equal files."""
    written = []
    with plots.style():
        for fmt in FORMATS:
            path = base.with_suffix(f".{fmt}")
            metadata = {"CreationDate": None} if fmt == "pdf" else None
            atomic_write(path, lambda temp, f=fmt, m=metadata: figure.savefig(temp, format=f, metadata=m))
            written.append(path)
    return written


def write_figures(runs: Path | Sequence[Path], dataset: str, to: Path, *, per_class: int = 3) -> list[Path]:
    """Build and save every figure of `dataset` under `to`; the paths written."""
    written = []
    for name, figure in dataset_figures(runs, dataset, per_class=per_class).items():
        written += save_figure(figure, Path(to) / f"{dataset}_{name}")
    return written
