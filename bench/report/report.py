"""`bench report`: run records -> one results table (LaTeX, Markdown, CSV or HTML), optionally with paired
DeLong tests (Holm-adjusted; `--reference`: marks in the table), average ranks with Friedman / Nemenyi (`--ranks`),
or one swept key's values as columns (`--by`). Reads run.json and scores.parquet only; nothing is retrained."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.core.errors import BenchError
from bench.metrics.table import METRICS
from bench.report import latex, render, significance
from bench.report.bootstrap import add_ci
from bench.report.collect import as_roots, runs_frame
from bench.report.names import dataset_label
from bench.report.sweep_table import build_by_table, render_by, width_pt
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
    by: str | None = None  # a swept key: its values as columns (bench.report.sweep_table)
    ranks: bool = False  # average ranks across the data sets, Friedman and Nemenyi (bench.report.ranks)
    reference: str | None = None  # mark entries whose AUC differs from this one (DeLong, Holm-adjusted)

    def check(self) -> None:
        """A BenchError for a bad format, layout or digit count, or options that do not combine."""
        if self.by and (self.ci or self.compare or self.reference or self.ranks):
            raise BenchError("--by makes its own table; it does not combine with --ci, --compare, --reference or "
                             "--ranks")
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


def render_table(table: ReportTable, options: ReportOptions, tests: pd.DataFrame | None = None) -> str:
    """The results table in the chosen format and layout (LaTeX without the document around it); with
    `--reference`, `tests` are its DeLong tests and differing AUC cells carry a star."""
    if options.fmt == "csv":
        return render.tidy_frame(table).to_csv(index=False, lineterminator="\n")
    pm = r"$\pm$" if options.fmt == "latex" else "±"
    seeds = None if uniform_seeds(table) else render.seeds_cells(table)
    cells = render.cell_frame(table, pm=pm)
    note = ""
    if options.reference and tests is not None:
        flagged = significance.reference_marks(table, tests)
        cells = cells.where(~flagged, cells + (r"$^{*}$" if options.fmt == "latex" else "*"))
        reference = tests["method_a"].iloc[0] if not tests.empty else options.reference
        note = (f" *: AUC differs from {reference} (paired DeLong test on the same test images, Holm-adjusted "
                f"p < {significance.ALPHA:g} in every seed both ran; {len(tests)} tests, table below).")
    cells = render.display(cells, table, options.layout, seeds=seeds)
    marks = render.display(table.marks, table, options.layout, seeds=None if seeds is None else seeds.map(lambda _: ""))
    text = render.caption(table, options.fmt) + note
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
    holm = significance.HOLM_NOTE.format(n=len(tests))
    against = f", each method against {tests['method_a'].iloc[0]}" if options.reference and not tests.empty else ""
    text = (f"Paired DeLong tests of AUC differences on the same test images ({names}){against}, one row per seed "
            f"both methods ran with; two-sided p-values, raw (DeLong p) and adjusted by {holm} (Holm p).")
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
    if options.by:
        parts, widths = _by_parts(frame, options)
        return _document(parts, widths, options)
    table = make_table(frame, options)
    tests = None
    if options.reference:
        tests = significance.reference_delong(table, frame, options.reference, options.compare)
    elif options.compare:
        tests = significance.with_holm(significance.paired_delong(table, frame, options.compare))
    parts = [render_table(table, options, tests)]
    widths = [latex.estimate_width_pt(_latex_frames(table, options))]
    if tests is not None:
        parts.append(render_tests(tests, options))
        widths.append(latex.estimate_width_pt(significance.display_frame(tests, options.digits)))
    if options.ranks:
        from bench.report.ranks import rank_frame, rank_test, render_ranks

        for metric in options.metrics:
            result = rank_test(table, metric)
            parts.append(render_ranks(result, options.fmt, label=_label(options, f"-ranks-{metric}")))
            widths.append(latex.estimate_width_pt(rank_frame(result)))
    return _document(parts, widths, options)


def _by_parts(frame: pd.DataFrame, options: ReportOptions) -> tuple[list[str], list[int]]:
    """One `--by` table per data set, and their widths."""
    parts, widths = [], []
    for dataset in options.datasets:
        if not (frame["dataset"] == dataset).any():
            continue
        by = build_by_table(frame, dataset, options.by, options.metrics, digits=options.digits,
                            methods=options.methods or None)
        parts.append(render_by(by, options.fmt, layout=options.layout))
        widths.append(width_pt(by, options.layout))
    return parts, widths


def _document(parts: list[str], widths: list[int], options: ReportOptions) -> str:
    """The parts, in a complete document under --standalone."""
    if options.fmt == "latex" and options.standalone:
        width = max(widths)
        return latex.standalone_document("\n".join(parts), width_pt=width)
    if options.fmt == "html" and options.standalone:
        body = "\n".join(parts)
        return ("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>bench report</title></head>\n"
                f"<body>\n{body}\n</body>\n</html>\n")
    return "\n".join(parts)
