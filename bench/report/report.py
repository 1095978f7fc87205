"""`bench report`: run records -> one results table (LaTeX, Markdown, CSV or HTML), optionally with paired
DeLong tests. Reads run.json and scores.parquet only; nothing is retrained."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.errors import BenchError
from bench.metric_table import METRICS
from bench.report import latex, render, significance
from bench.report.bootstrap import add_ci
from bench.report.collect import as_roots, runs_frame
from bench.report.names import dataset_label
from bench.report.table import ReportTable, build_table, uniform_seeds

FORMATS = ("latex", "md", "csv", "html")
LAYOUTS = ("rows", "columns")


@dataclasses.dataclass(frozen=True)
class ReportOptions:
    """What `bench report` prints; see the CLI help for each field."""

    datasets: tuple[str, ...]
    fmt: str = "md"
    layout: str = "rows"  # methods as rows | as columns
    metrics: tuple[str, ...] = METRICS
    ci: bool = False
    standalone: bool = False
    compare: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()
    digits: int = 3

    def check(self) -> None:
        """A BenchError for a bad format, layout or digit count."""
        if self.fmt not in FORMATS:
            raise BenchError(f"--format must be one of {', '.join(FORMATS)}, got {self.fmt!r}")
        if self.layout not in LAYOUTS:
            raise BenchError(f"--layout must be rows (methods as rows) or columns, got {self.layout!r}")
        if not 1 <= self.digits <= 6:
            raise BenchError(f"--digits must be between 1 and 6, got {self.digits}")


def make_table(runs: pd.DataFrame, options: ReportOptions) -> ReportTable:
    """The ReportTable of the selected data sets, metrics and methods (with CIs under --ci)."""
    table = build_table(runs, options.datasets, options.metrics, digits=options.digits,
                        methods=options.methods or None)
    if not table.entries:
        raise BenchError(f"no complete runs for {', '.join(options.datasets)}"
                         + (f" of {', '.join(options.methods)}" if options.methods else ""))
    return add_ci(table) if options.ci else table


def _label(options: ReportOptions, suffix: str = "") -> str:
    return "tab:bench-" + "-".join(options.datasets).replace("_", "-") + suffix


def _latex_frames(table: ReportTable, options: ReportOptions) -> pd.DataFrame:
    """The display cells of the table (for widths)."""
    seeds = None if uniform_seeds(table) else render.seeds_cells(table)
    return render.display(render.cell_frame(table, pm="+-"), table, options.layout, seeds=seeds)


def render_table(table: ReportTable, options: ReportOptions) -> str:
    """The results table in the chosen format and layout (LaTeX without the document around it)."""
    if options.fmt == "csv":
        return render.tidy_frame(table).to_csv(index=False, lineterminator="\n")
    pm = r"$\pm$" if options.fmt == "latex" else "±"
    seeds = None if uniform_seeds(table) else render.seeds_cells(table)
    cells = render.display(render.cell_frame(table, pm=pm), table, options.layout, seeds=seeds)
    marks = render.display(table.marks, table, options.layout, seeds=None if seeds is None else seeds.map(lambda _: ""))
    text = render.caption(table, options.fmt)
    if options.fmt == "latex":
        return latex.latex_table(cells, marks, text, label=_label(options))
    if options.fmt == "html":
        return render.html_table(cells, marks, text)
    return f"{text}\n\n{render.markdown_table(cells, marks, index_header='method' if options.layout == 'rows' else '')}"


def render_tests(tests: pd.DataFrame, options: ReportOptions) -> str:
    """The paired DeLong tests as a second table in the same format."""
    if options.fmt == "csv":
        return tests.to_csv(index=False, lineterminator="\n")
    names = ", ".join(dataset_label(d) for d in options.datasets)
    text = (f"Paired DeLong tests of AUC differences on the same test images ({names}), one row per seed "
            "both methods ran with; two-sided p-values, not corrected for multiple comparisons.")
    if tests.empty:
        text += " No pair of runs scored the same test images."
    frame = significance.display_frame(tests, options.digits)
    if options.fmt == "latex":
        frame = frame.map(latex.escape_latex).replace("<0.001", "$<$0.001")
        return latex.latex_table(frame, None, text, label=_label(options, "-delong"), index=False,
                                 text_columns=3)
    if options.fmt == "html":
        return render.html_table(frame, None, text, uuid="bench-delong", index=False)
    return f"{text}\n\n{render.markdown_table(frame, index=False, text_columns=3)}"


def report(runs: Path | Sequence[Path], options: ReportOptions) -> str:
    """Everything `bench report` prints: the table, then (with --compare) the DeLong tests."""
    options.check()
    frame = runs_frame(runs, list(options.datasets))
    if frame.empty:
        roots = ", ".join(str(r) for r in as_roots(runs))
        raise BenchError(f"no complete runs for {', '.join(options.datasets)} under {roots}; run `bench run` first")
    table = make_table(frame, options)
    parts = [render_table(table, options)]
    widths = [latex.estimate_width_pt(_latex_frames(table, options))]
    if options.compare:
        tests = significance.paired_delong(table, frame, options.compare)
        parts.append(render_tests(tests, options))
        widths.append(latex.estimate_width_pt(significance.display_frame(tests, options.digits)))
    if options.fmt == "latex" and options.standalone:
        width = max(widths)
        return latex.standalone_document("\n".join(parts), width_pt=width)
    if options.fmt == "html" and options.standalone:
        body = "\n".join(parts)
        return ("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>bench report</title></head>\n"
                f"<body>\n{body}\n</body>\n</html>\n")
    return "\n".join(parts)
