"""What the site shows, gathered once from the run trees: per data set its leaderboard rows (leaderboard_frame),
every method configuration with its seeds' records and 95% CIs (build_table + add_ci), and the paired DeLong tests.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from bench.metrics.table import LOCALISATION_METRICS, METRICS
from bench.report import significance
from bench.report.bootstrap import add_ci
from bench.report.collect import SkippedRunWarning, runs_frame
from bench.report.leaderboard import REPRODUCED, leaderboard_frame, select_configurations
from bench.report.names import dataset_sort_key
from bench.report.table import ReportTable, build_table
from bench.runs.folder import read_record
from bench.runs.record import RunRecord

RESERVED = frozenset({"assets", "index", "compare"})  # names the site uses itself


@dataclasses.dataclass(frozen=True)
class SeedRun:
    """One run of a configuration: its seed, folder and record."""

    seed: int
    folder: Path
    record: RunRecord


@dataclasses.dataclass
class Configuration:
    """One method configuration on one data set (a row of build_table's summary) and its runs by seed."""

    dataset: str
    entry: str  # the label reports print (distinguishing_labels)
    slug: str  # its file name on the site
    row: pd.Series  # the aggregate() row, with `entry`
    runs: list[SeedRun]
    chosen: bool  # the configuration the leaderboard shows for its (data set, method)

    @property
    def method(self) -> str:
        return str(self.row["method"])


@dataclasses.dataclass
class DatasetContent:
    """One data set: its leaderboard rows, its configurations (none where only the papers report it), the table
    they come from (with CIs) and the DeLong tests between them."""

    name: str
    slug: str
    board: pd.DataFrame  # leaderboard_frame rows, plus `entry` (None for the papers' rows) and `selection`
    configurations: list[Configuration]
    table: ReportTable | None
    frame: pd.DataFrame  # the runs_frame rows of this data set
    delong: pd.DataFrame
    metrics: tuple[str, ...] = METRICS  # the image metrics, and each localisation metric some run here has

    def configuration(self, entry: str | None) -> Configuration | None:
        """The configuration labelled `entry`, or None."""
        return next((c for c in self.configurations if c.entry == entry), None)


def safe_name(text: str) -> str:
    """A file-name part of ASCII letters, digits, `.`, `_` and `-` (`pca_v2 100%` -> `pca_v2-100`)."""
    return re.sub(r"-{2,}", "-", re.sub(r"[^A-Za-z0-9._-]+", "-", text)).strip("-.") or "x"


def unique_names(candidates: Sequence[Sequence[str]], keys: Sequence[str]) -> list[str]:
    """One name per item: the first of its candidates that no other item shares and that is not RESERVED, else
    its last candidate with a short hash of its key."""
    names = []
    for index, options in enumerate(candidates):
        chosen = None
        for option in options:
            clash = any(option in others for j, others in enumerate(candidates) if j != index)
            if not clash and option.lower() not in RESERVED:
                chosen = option
                break
        names.append(chosen or f"{options[-1]}-{hashlib.sha256(keys[index].encode()).hexdigest()[:6]}")
    return names


def _configuration_slugs(summary: pd.DataFrame) -> list[str]:
    rows = list(summary.itertuples(index=False))
    candidates = []
    for row in rows:
        base = safe_name(f"{row.method}-{row.run_config}")
        with_split = f"{base}-{safe_name(str(row.split_id))[:8]}"
        candidates.append([base, with_split, f"{with_split}-{safe_name(str(row.images_id))[:6]}"])
    keys = [repr((r.method, r.run_config, r.split_id, r.images_id, r.image_size, r.threshold_policy)) for r in rows]
    return unique_names(candidates, keys)


def _runs_of(folders: Iterable[str], frame: pd.DataFrame) -> list[SeedRun]:
    seeds = dict(zip(frame["folder"], frame["seed"], strict=True))
    runs = [SeedRun(int(seeds[f]), Path(f), read_record(Path(f))) for f in folders]
    return sorted(runs, key=lambda run: run.seed)


def _delong(table: ReportTable, frame: pd.DataFrame) -> pd.DataFrame:
    if len(table.entries) < 2:
        return pd.DataFrame(columns=significance.COLUMNS)
    return significance.paired_delong(table, frame, table.entries)


def _dataset(name: str, slug: str, board: pd.DataFrame, frame: pd.DataFrame) -> DatasetContent:
    rows = board[board["dataset"] == name].reset_index(drop=True)
    runs = frame[frame["dataset"] == name]
    if runs.empty:
        return DatasetContent(name, slug, rows.assign(entry=None, selection=None), [], None, runs,
                              pd.DataFrame(columns=significance.COLUMNS))
    metrics = (*METRICS, *(m for m in LOCALISATION_METRICS if m in runs and runs[m].notna().any()))
    table = add_ci(build_table(runs, [name], metrics))
    summary = table.summary
    chosen = select_configurations(summary)[["method", "entry", "selection"]]
    rows = rows.merge(chosen, on="method", how="left")
    rows.loc[rows["status"] != REPRODUCED, ["entry", "selection"]] = None
    slugs = _configuration_slugs(summary)
    configurations = [
        Configuration(name, row["entry"], slug_, row, _runs_of(row["folders"], runs),
                      row["entry"] in set(chosen["entry"]))
        for slug_, (_, row) in zip(slugs, summary.iterrows(), strict=True)]
    configurations.sort(key=lambda c: (c.method.lower(), c.entry))
    return DatasetContent(name, slug, rows, configurations, table, runs, _delong(table, runs), metrics)


def gather(runs: Path | Sequence[Path], reported_main: pd.DataFrame) -> list[DatasetContent]:
    """Every data set that has runs or rows in the papers' main tables: those with runs first, each group in the
    reports' order. Run folders left out are named once, in SkippedRunWarnings."""
    frame = runs_frame(runs)
    with warnings.catch_warnings():  # the same run trees again: their skipped folders were named just above
        warnings.simplefilter("ignore", SkippedRunWarning)
        board = leaderboard_frame(runs, reported_main)
    ran = set(frame["dataset"])
    names = sorted(set(board["dataset"]) | ran, key=lambda name: (name not in ran, dataset_sort_key(name)))
    slugs = unique_names([[safe_name(n)] for n in names], names)
    return [_dataset(name, slug, board, frame) for name, slug in zip(names, slugs, strict=True)]
