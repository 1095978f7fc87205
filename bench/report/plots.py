"""Figures for papers: ROC and PR curves of all methods on one axes each, score histograms per method.

Figures are built with matplotlib's object API (no pyplot state, Agg canvas), sized for a 3.5 in column (7.16 in
when many panels), with the Okabe-Ito colour-blind-safe palette and varied line styles (so they survive greyscale).
"""

from __future__ import annotations

import contextlib
import math
import textwrap
from collections.abc import Iterator, Mapping, Sequence

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from bench.report.curves import Curve

OKABE_ITO = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINE_STYLES = ("-", "--", "-.", ":")
NORMAL_COLOUR, ABNORMAL_COLOUR = OKABE_ITO[0], OKABE_ITO[1]
COLUMN_WIDTH_IN, PAGE_WIDTH_IN = 3.5, 7.16
STYLE = {"font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 6.5, "xtick.labelsize": 7,
         "ytick.labelsize": 7, "lines.linewidth": 1.3, "axes.spines.top": False, "axes.spines.right": False,
         "pdf.fonttype": 42, "savefig.dpi": 300}


def style() -> contextlib.AbstractContextManager:
    """The rc settings of every figure (a context manager)."""
    return mpl.rc_context(STYLE)


def wrap(label: str, width: int) -> str:
    """Break a long label into lines of at most `width` characters (at spaces and after commas)."""
    return "\n".join(textwrap.wrap(label, width, break_long_words=False, break_on_hyphens=False)) or label


def line_styles() -> Iterator[dict[str, str]]:
    """Colour and line style per curve: colours first, then the same colours dashed, and so on."""
    index = 0
    while True:
        yield {"color": OKABE_ITO[index % len(OKABE_ITO)],
               "linestyle": LINE_STYLES[(index // len(OKABE_ITO) + index) % len(LINE_STYLES)]}
        index += 1


def _legend_below(labels: Sequence[str]) -> bool:
    return len(labels) > 4 or max(map(len, labels), default=0) > 34


def _curve_figure(curves: Sequence[Curve], legend_values: Sequence[str], *, xlabel: str, ylabel: str,
                  inside: str) -> Figure:
    # No-break spaces keep "(AUC 0.912 ± 0.004)" on one line when a long label wraps.
    labels = [f"{curve.label} ({value})".replace(value, value.replace(" ", "\u00a0"))
              for curve, value in zip(curves, legend_values, strict=True)]
    below = _legend_below(labels)
    if below:
        labels = [wrap(label, 58) for label in labels]
    lines = sum(label.count("\n") + 1 for label in labels)
    figure = Figure(figsize=(COLUMN_WIDTH_IN, 2.8 + (0.13 * lines + 0.2 if below else 0)), layout="constrained")
    ax = figure.add_subplot()
    for curve, label, line in zip(curves, labels, line_styles(), strict=False):
        ax.plot(curve.x, curve.y, label=label, **line)
        if curve.y_std is not None:
            ax.fill_between(curve.x, np.clip(curve.y - curve.y_std, 0, 1), np.clip(curve.y + curve.y_std, 0, 1),
                            color=line["color"], alpha=0.15, linewidth=0)
    ax.set(xlim=(0, 1), ylim=(0, 1.01), xlabel=xlabel, ylabel=ylabel, aspect="equal")
    if below:  # long or many labels go under the axes, one per line
        figure.legend(loc="outside lower center", frameon=False, ncols=1)
    else:
        ax.legend(loc=inside, frameon=False)
    return figure


def roc_figure(curves: Sequence[Curve], aucs: Sequence[str]) -> Figure:
    """All methods' ROC curves on one axes, AUC in the legend, chance line dashed grey (not in the legend)."""
    figure = _curve_figure(curves, [f"AUC {a}" for a in aucs], xlabel="False positive rate",
                           ylabel="True positive rate", inside="lower right")
    figure.axes[0].plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=0.8, label="_chance")
    return figure


def pr_figure(curves: Sequence[Curve], aps: Sequence[str], prevalence: float) -> Figure:
    """All methods' precision-recall curves on one axes, AP in the legend, the prevalence as a grey line."""
    figure = _curve_figure(curves, [f"AP {a}" for a in aps], xlabel="Recall", ylabel="Precision",
                           inside="lower left")
    figure.axes[0].axhline(prevalence, color="0.6", linestyle=":", linewidth=0.8, label="_prevalence")
    return figure


def histogram_figure(score_sets: Sequence[tuple[str, np.ndarray, np.ndarray]], bins: int = 30) -> Figure:
    """One panel per method: test-score histograms of normal vs abnormal images (densities, shared bins)."""
    n = len(score_sets)
    columns = min(n, 2 if n <= 4 else 3)
    rows = math.ceil(n / columns)
    width = COLUMN_WIDTH_IN if columns <= 2 else PAGE_WIDTH_IN
    figure = Figure(figsize=(width, 0.4 + 1.55 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (label, normal, abnormal) in zip(axes, score_sets, strict=False):
        edges = np.histogram_bin_edges(np.concatenate([normal, abnormal]), bins=bins)
        ax.hist(normal, bins=edges, density=True, alpha=0.55, color=NORMAL_COLOUR, label="normal")
        ax.hist(abnormal, bins=edges, density=True, alpha=0.55, color=ABNORMAL_COLOUR, label="abnormal",
                hatch="///", edgecolor=ABNORMAL_COLOUR, linewidth=0)
        ax.set_title(wrap(label, 34 if columns <= 2 else 40), fontsize=7)
        ax.set_yticks([])
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    for ax in axes[n:]:
        ax.set_visible(False)
    figure.legend(*axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=2, frameon=False)
    figure.supxlabel("Anomaly score (test split)", fontsize=8)
    return figure


def loss_figure(iterations: np.ndarray, losses: Mapping[str, np.ndarray], title: str) -> Figure:
    """A GAN's training losses (its losses.csv): one small panel per loss against the iteration, own y scale each
    (critic and generator losses differ by orders of magnitude)."""
    n = max(len(losses), 1)
    columns = min(n, 3)
    rows = math.ceil(n / columns)
    figure = Figure(figsize=(COLUMN_WIDTH_IN if columns < 3 else PAGE_WIDTH_IN, 0.6 + 1.45 * rows),
                    layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, (name, values) in zip(axes, losses.items(), strict=False):
        ax.plot(iterations, values, color=OKABE_ITO[0], linewidth=0.9)
        ax.set_title(name, fontsize=7)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    for ax in axes[len(losses):]:
        ax.set_visible(False)
    figure.suptitle(wrap(title, 70), fontsize=8)
    figure.supxlabel("Iteration", fontsize=8)
    return figure
