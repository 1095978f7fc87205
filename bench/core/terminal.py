"""Tables that fit the terminal: its width, and a rich table that drops or abbreviates its low-value columns until
it fits, so no number is ever wrapped inside its cell."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

PIPED_WIDTH = 120  # piped output (logs, CI): wide enough for the results table, not rich's 80-column default


def terminal_width(stream: TextIO | None = None, fallback: int = PIPED_WIDTH) -> int:
    """The width to print at: `COLUMNS` when set to a positive integer, else the terminal's (rich's detection)
    when `stream` (default stdout) is a terminal, else `fallback`."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    stream = sys.stdout if stream is None else stream
    if getattr(stream, "isatty", lambda: False)():
        from rich.console import Console

        return Console(file=stream).width
    return fallback


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of a fitted table. `short`: its header when space is tight; `drop`: 0 never dropped, else
    dropped before columns of a lower rank; `text`: left-aligned and folded if all else fails (numbers never
    wrap)."""

    header: str
    short: str | None = None
    drop: int = 0
    text: bool = False


@dataclasses.dataclass(frozen=True)
class FittedTable:
    """The table to print, the headers it left out to fit, and whether it fits (else its text columns fold)."""

    table: Any
    dropped: tuple[str, ...]
    fits: bool = True


def _build(columns: Sequence[Column], keep: Sequence[int], rows: Sequence[Sequence[str] | None], short: bool,
           title: str | None) -> Any:
    from rich.table import Table

    table = Table(title=title)
    for i in keep:
        column = columns[i]
        header = column.short if short and column.short else column.header
        table.add_column(header, justify="left" if column.text else "right",
                         overflow="fold" if column.text else "ellipsis", no_wrap=not column.text)
    for row in rows:
        if row is None:
            table.add_section()
        else:
            table.add_row(*(row[i] for i in keep))
    return table


def fit_table(columns: Sequence[Column], rows: Sequence[Sequence[str] | None], width: int,
              title: str | None = None) -> FittedTable:
    """A rich table of `rows` (None: a section line) no wider than `width` where it can be: full headers, else
    the short headers, else the droppable columns left out one at a time, highest `drop` first. Numbers are never
    wrapped; if even the kept columns do not fit, the text columns fold."""
    from rich.console import Console

    # Measured unclamped (a console as wide as the table wants): rich clamps a measurement to the console's width.
    measure = Console(width=100_000, file=open(os.devnull, "w"))  # noqa: SIM115 (closed below)
    try:
        keep = list(range(len(columns)))
        order = sorted((i for i, c in enumerate(columns) if c.drop), key=lambda i: (-columns[i].drop, -i))
        for short in (False, True):
            table = _build(columns, keep, rows, short, title)
            if measure.measure(table).maximum <= width:
                return FittedTable(table, ())
        dropped: list[str] = []
        for i in order:
            keep.remove(i)
            dropped.append(columns[i].header)
            table = _build(columns, keep, rows, True, title)
            if measure.measure(table).maximum <= width:
                return FittedTable(table, tuple(dropped))
        return FittedTable(table, tuple(dropped), fits=False)
    finally:
        measure.file.close()
