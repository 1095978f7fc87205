"""A Markdown table of mean +- std over seeds, one row per method configuration."""

from __future__ import annotations

import math

import pandas as pd

from bench.report.collect import METRICS


def format_mean_std(mean: float, std: float, digits: int = 3) -> str:
    """`0.912 ± 0.004`; a missing value is `-`, a single seed shows the mean alone."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "-"
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown_table(summary: pd.DataFrame, metrics: tuple[str, ...] = METRICS) -> str:
    """Rows: dataset, method, preset, seeds, then one column per metric (mean ± std)."""
    header = ["dataset", "method", "preset", "seeds", "threshold", *[m.upper() if m in ("auc", "ap") else m
                                                                       for m in metrics]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in summary.itertuples(index=False):
        cells = [row.dataset, row.method, row.preset, str(row.n_seeds), str(row.threshold_policy)]
        cells += [format_mean_std(getattr(row, f"{m}_mean"), getattr(row, f"{m}_std")) for m in metrics]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
