"""Text cells of a ReportTable, its caption, and the Markdown, HTML and CSV renderings (LaTeX: latex.py).

A missing value prints as "-", never 0. A metric that only some of an entry's seeds have prints "(n=k)".
"""

from __future__ import annotations

import html
import math

import pandas as pd

from bench.metrics.table import metric_label
from bench.report.names import dataset_label
from bench.report.table import ReportTable, localisation_note, seeds_note, split_note, threshold_note

MISSING = "-"
MARK_WORDS = {"latex": ("bold", "underlined"), "html": ("bold", "underlined"), "md": ("bold", "in italics")}


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_value(mean: float | None, std: float | None = None, *, digits: int = 3, pm: str = "±",
                 ci: tuple[float, float] | None = None) -> str:
    """`0.912 ± 0.004`, `0.912 [0.897, 0.925]` with a CI, `0.912` for one seed, `-` when missing."""
    if _missing(mean):
        return MISSING
    if ci is not None and not any(_missing(v) for v in ci):
        return f"{mean:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
    if _missing(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} {pm} {std:.{digits}f}"


def cell_frame(table: ReportTable, *, pm: str = "±") -> pd.DataFrame:
    """The table's cells as strings (entries x (dataset, metric)), CIs where the table has them."""
    cells = pd.DataFrame(MISSING, index=table.mean.index, columns=table.mean.columns)
    n_seeds = table.n_seeds
    for entry in table.entries:
        for column in table.mean.columns:
            ci = None
            if table.ci_low is not None and table.ci_high is not None:
                ci = (table.ci_low.loc[entry, column], table.ci_high.loc[entry, column])
            text = format_value(table.mean.loc[entry, column], table.std.loc[entry, column], digits=table.digits,
                                pm=pm, ci=ci)
            count, total = table.count.loc[entry, column], n_seeds.loc[entry, column[0]]
            if text != MISSING and not _missing(total) and count < total:
                text += f" (n={int(count)})"
            cells.loc[entry, column] = text
    return cells


def seeds_cells(table: ReportTable) -> pd.DataFrame:
    """A `Seeds` column (entries x 1): the number of seeds per data set, `3` or `3/2` for two data sets."""
    text = table.n_seeds.apply(lambda r: "/".join("-" if _missing(v) else str(int(v)) for v in r), axis=1)
    return pd.DataFrame({("", "Seeds"): text}, index=table.mean.index)


def display(frame: pd.DataFrame, table: ReportTable, layout: str, *, seeds: pd.DataFrame | None = None
            ) -> pd.DataFrame:
    """Display labels (RSNA, AUC); the data-set level only when there are several; methods as rows or columns;
    `seeds` (a Seeds column) in front when given."""
    frame = frame.rename(columns=dataset_label, level=0).rename(columns=metric_label, level=1)
    if seeds is not None:
        frame = pd.concat([seeds, frame], axis=1)
    if len(table.datasets) == 1:
        frame = frame.droplevel(0, axis=1)
    frame.index.name = None
    frame.columns.names = [None] * frame.columns.nlevels
    return frame.T if layout == "columns" else frame


def caption(table: ReportTable, fmt: str, *, title: str = "Test-split results") -> str:
    """Data sets, what the values are, n seeds, threshold policy, marks, split identity and image size."""
    names = ", ".join(dataset_label(d) for d in table.datasets)
    values = ("mean [95% stratified bootstrap CI of the seed mean]" if table.ci_low is not None
              else "mean ± std") + f" over {seeds_note(table)}"
    bold, second = MARK_WORDS[fmt]
    parts = [f"{title} on {names}: {values}.", threshold_note(table), localisation_note(table),
             f"Best per column in {bold}, second {second}.", f"({split_note(table)})"]
    return " ".join(p for p in parts if p)


def _flat(label: object) -> str:
    return " ".join(str(p) for p in label if str(p)) if isinstance(label, tuple) else str(label)


def escape_markdown(text: str) -> str:
    """Escape the characters that would break a pipe table or start emphasis."""
    for char in "\\|*_`":
        text = text.replace(char, "\\" + char)
    return text


def markdown_table(frame: pd.DataFrame, marks: pd.DataFrame | None = None, *, index_header: str = "",
                   index: bool = True, text_columns: int = 0) -> str:
    """A pipe table: index levels as leading columns (repeated values left blank; none when not `index`), then
    one column per (flattened) column label, right-aligned except the first `text_columns`. Marks: best in
    **bold**, second in _italics_ (no underline in Markdown). Cells are escaped."""
    levels = frame.index.nlevels if index else 0
    header = ([index_header] + [""] * (levels - 1))[:levels] + [escape_markdown(_flat(c)) for c in frame.columns]
    aligns = "---|" * (levels + text_columns) + "--:|" * (len(frame.columns) - text_columns)
    lines = ["| " + " | ".join(header) + " |", "|" + aligns]
    previous: tuple = ()
    for position, (label, row) in enumerate(frame.iterrows()):
        label = (label if isinstance(label, tuple) else (label,)) if index else ()
        shown = [("" if i < len(previous) and previous[:i + 1] == label[:i + 1] else escape_markdown(str(part)))
                 for i, part in enumerate(label)]
        previous = label
        cells = []
        for column, text in zip(frame.columns, row, strict=True):
            mark = "" if marks is None else marks.iloc[position][column]
            text = escape_markdown(str(text))
            cells.append(f"**{text}**" if mark == "best" else f"_{text}_" if mark == "second" else str(text))
        lines.append("| " + " | ".join(shown + cells) + " |")
    return "\n".join(lines) + "\n"


def html_table(frame: pd.DataFrame, marks: pd.DataFrame | None, caption_text: str, *, uuid: str = "bench",
               index: bool = True) -> str:
    """An HTML table through pandas Styler: best bold, second underlined, labels escaped."""
    styler = frame.style.set_uuid(uuid).set_caption(html.escape(caption_text))
    if not index:
        styler = styler.hide(axis="index")
    styler = styler.format(escape="html").format_index(escape="html", axis=0).format_index(escape="html", axis=1)
    if marks is not None:
        css = {"best": "font-weight: bold;", "second": "text-decoration: underline;", "": ""}
        styler = styler.apply(lambda _: marks.replace(css), axis=None)
    return styler.to_html()


def tidy_frame(table: ReportTable) -> pd.DataFrame:
    """One row per (data set, entry, metric) with raw numbers, for CSV: mean, std, n, CI, mark and provenance."""
    rows = []
    for row in table.summary.itertuples(index=False):
        for metric in table.metrics:
            column = (row.dataset, metric)
            rows.append({
                "dataset": row.dataset, "method": row.method, "entry": row.entry, "metric": metric,
                "mean": table.mean.loc[row.entry, column], "std": table.std.loc[row.entry, column],
                "n": int(table.count.loc[row.entry, column]), "n_seeds": int(row.n_seeds),
                "ci95_low": None if table.ci_low is None else table.ci_low.loc[row.entry, column],
                "ci95_high": None if table.ci_high is None else table.ci_high.loc[row.entry, column],
                "mark": table.marks.loc[row.entry, column], "preset": row.preset,
                "threshold_policy": row.threshold_policy, "test_oracle": bool(row.test_oracle),
                "split_id": row.split_id, "image_size": row.image_size, "seeds": row.seeds,
            })
    frame = pd.DataFrame(rows)
    return frame.sort_values(["dataset", "entry"], kind="stable") if not frame.empty else frame
