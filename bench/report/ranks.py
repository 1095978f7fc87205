"""`bench report --ranks`: methods ranked on each data set, average ranks, Friedman's test and Nemenyi's post-hoc
test with the critical difference (Demšar, JMLR 2006), and the critical-difference diagram (`bench plot --ranks`).

A data set is one block: each entry's value there is its mean over seeds. Friedman's statistic comes from
scipy.stats.friedmanchisquare, Nemenyi's pairwise p-values from scikit-posthocs (posthoc_nemenyi_friedman), the
diagram from scikit-posthocs (critical_difference_diagram). The critical difference is Demšar's
q_alpha * sqrt(k (k + 1) / (6 N)) with q_alpha the studentized-range quantile (scipy.stats.studentized_range, the
distribution scikit-posthocs' p-values come from, so a pair is significant exactly when its ranks differ by more).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bench.core.errors import BenchError
from bench.metrics.table import HIGHER_IS_BETTER, metric_label
from bench.report import latex, render
from bench.report.names import dataset_label
from bench.report.significance import format_p
from bench.report.table import ReportTable

ALPHA = 0.05


@dataclasses.dataclass
class RankResult:
    """Ranks of the entries on each data set (1 = best) and the tests on them."""

    metric: str
    values: pd.DataFrame  # data sets x entries: the mean over seeds
    ranks: pd.DataFrame  # data sets x entries
    average: pd.Series  # entry -> average rank, best first
    friedman_statistic: float
    friedman_p: float
    nemenyi: pd.DataFrame  # entries x entries: p-values
    cd: float
    alpha: float
    left_out: list[str]  # entries without a value on every data set

    @property
    def k(self) -> int:
        return len(self.average)

    @property
    def n(self) -> int:
        return len(self.values)


def critical_difference(k: int, n: int, alpha: float = ALPHA) -> float:
    """Nemenyi's critical difference of average ranks for k methods on n data sets."""
    from scipy.stats import studentized_range

    q_alpha = studentized_range.ppf(1 - alpha, k, np.inf) / math.sqrt(2)
    return float(q_alpha * math.sqrt(k * (k + 1) / (6 * n)))


def rank_test(table: ReportTable, metric: str, alpha: float = ALPHA) -> RankResult:
    """Ranks, Friedman and Nemenyi for `metric` over the table's data sets; entries missing on any data set are left
    out (the tests need complete blocks). Needs at least two data sets and three entries."""
    import scikit_posthocs
    from scipy.stats import friedmanchisquare

    if metric not in table.metrics:
        raise BenchError(f"--ranks: the table has no {metric} (metrics: {', '.join(table.metrics)})")
    values = table.mean.xs(metric, axis=1, level="metric").T  # data sets x entries
    complete = values.columns[values.notna().all()]
    left_out = [e for e in values.columns if e not in complete]
    values = values[complete]
    if len(values) < 2 or len(complete) < 3:
        raise BenchError(f"--ranks needs at least two data sets and three methods with {metric_label(metric)} on "
                         f"every one of them; found {len(values)} data set(s) and {len(complete)} method(s)"
                         + (f" (missing somewhere: {', '.join(left_out)})" if left_out else "")
                         + "; for two methods use --compare")
    ranks = values.rank(axis=1, ascending=not HIGHER_IS_BETTER.get(metric, True), method="average")
    average = ranks.mean().sort_values(kind="stable")
    statistic, p_value = friedmanchisquare(*(values[e].to_numpy() for e in complete))
    nemenyi = scikit_posthocs.posthoc_nemenyi_friedman(values.to_numpy())
    nemenyi.index = nemenyi.columns = list(complete)
    return RankResult(metric, values, ranks, average, float(statistic), float(p_value), nemenyi,
                      critical_difference(len(complete), len(values), alpha), alpha, left_out)


def caption(result: RankResult) -> str:
    """What was ranked, the Friedman result and the critical difference, in plain text (LaTeX-safe once escaped)."""
    names = ", ".join(dataset_label(d) for d in result.values.index)
    text = (f"Ranks by {metric_label(result.metric)} (1 = best; each method's mean over seeds) on {result.n} data "
            f"sets ({names}). Friedman test: chi-square = {result.friedman_statistic:.2f} (df {result.k - 1}), "
            f"p = {format_p(result.friedman_p)}. Nemenyi critical difference at alpha = {result.alpha:g}: "
            f"CD = {result.cd:.2f} (k = {result.k}, N = {result.n}); average ranks further apart than CD differ "
            "significantly (pairwise p-values below). Friedman: scipy; Nemenyi: scikit-posthocs.")
    if result.left_out:
        text += f" Left out (no value on every data set): {', '.join(result.left_out)}."
    return text


def rank_frame(result: RankResult) -> pd.DataFrame:
    """Entries (best average rank first) x (each data set's rank, the average rank)."""
    frame = result.ranks.T.loc[result.average.index].map(lambda r: f"{r:g}")
    frame.columns = [dataset_label(d) for d in frame.columns]
    frame["Average rank"] = result.average.map(lambda r: f"{r:.2f}")
    return frame


def nemenyi_frame(result: RankResult) -> pd.DataFrame:
    """The pairwise Nemenyi p-values, entries in average-rank order ("-" on the diagonal)."""
    order = list(result.average.index)
    frame = result.nemenyi.loc[order, order].map(format_p)
    for entry in order:
        frame.loc[entry, entry] = "-"
    return frame


def render_ranks(result: RankResult, fmt: str, *, label: str) -> str:
    """The rank table, then the Nemenyi p-values, in the report's format."""
    ranks, pairs = rank_frame(result), nemenyi_frame(result)
    text = caption(result)
    pairs_text = f"Nemenyi post-hoc p-values of every pair ({metric_label(result.metric)} ranks)."
    if fmt == "csv":
        tidy = result.ranks.T.reset_index(names="entry").melt(id_vars="entry", var_name="dataset", value_name="rank")
        tidy["average_rank"] = tidy["entry"].map(result.average)
        tidy = tidy.assign(metric=result.metric, friedman_statistic=result.friedman_statistic,
                           friedman_p=result.friedman_p, cd=result.cd, alpha=result.alpha)
        return tidy.to_csv(index=False, lineterminator="\n")
    if fmt == "latex":
        ranks, pairs = (f.map(latex.escape_latex).replace("<0.001", "$<$0.001") for f in (ranks, pairs))
        return "\n".join([latex.latex_table(ranks, None, text, label=label),
                          latex.latex_table(pairs, None, pairs_text, label=label + "-nemenyi")])
    if fmt == "html":
        return "\n".join([render.html_table(ranks, None, text, uuid="bench-ranks"),
                          render.html_table(pairs, None, pairs_text, uuid="bench-nemenyi")])
    return (f"{text}\n\n{render.markdown_table(ranks, index_header='method')}\n"
            f"{pairs_text}\n\n{render.markdown_table(pairs, index_header='method')}")


def cd_figure(result: RankResult) -> Figure:
    """The critical-difference diagram: average ranks on an axis (1 = best, left), a bar joining methods whose
    ranks no Nemenyi test tells apart, and the CD drawn to scale above the axis."""
    import scikit_posthocs

    from bench.report.plots import COLUMN_WIDTH_IN, OKABE_ITO, style

    with style():
        figure = Figure(figsize=(COLUMN_WIDTH_IN, 1.3 + 0.22 * result.k), layout="constrained")
        ax = figure.add_subplot()
        palette = [OKABE_ITO[i % len(OKABE_ITO)] for i in range(result.k)]
        scikit_posthocs.critical_difference_diagram(
            result.average, result.nemenyi, alpha=result.alpha, ax=ax, color_palette=palette,
            label_fmt_left="{label} ({rank:.2f})", label_fmt_right="({rank:.2f}) {label}",
            label_props={"fontsize": 6.5}, elbow_props={"linewidth": 1}, crossbar_props={"linewidth": 1.5})
        ax.spines["top"].set_visible(True)  # the rank axis (the house style hides top spines)
        start = 1.0  # the CD to scale, from rank 1, above the rank axis and its labels
        ax.plot([start, start + result.cd], [1.4, 1.4], color="k", linewidth=1)
        for x in (start, start + result.cd):
            ax.plot([x, x], [1.3, 1.5], color="k", linewidth=1)
        ax.text(start + result.cd / 2, 1.6, f"CD = {result.cd:.2f}", ha="center", va="bottom", fontsize=6.5)
        bottom, _ = ax.get_ylim()
        ax.set_ylim(bottom, 2.1)
        ax.set_xlim(0.9, max(result.k, start + result.cd) + 0.1)
        ax.set_title(f"Average rank by {metric_label(result.metric)} on {result.n} data sets\n"
                     f"Friedman p = {format_p(result.friedman_p)}, Nemenyi alpha = {result.alpha:g}", fontsize=7)
    return figure
