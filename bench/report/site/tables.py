"""The site's tables as plain data for one template macro: a caption, column headers (text or number, for sorting)
and rows of cells (text, sort value, optional link, note and badge). The first cell of a row is its header.

Numbers print as the reports print them (format_value: mean ± std, `-` when missing, never 0); the sort value is
the number itself, empty when missing (missing values sort last either way).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable

import pandas as pd

from bench.metrics.table import METRICS, THRESHOLDED, metric_label
from bench.report.leaderboard import REPRODUCED, _overrides_text
from bench.report.leaderboard_files import _paper_cell
from bench.report.reference_splits import OWN_SPLIT, REFERENCE, split_status
from bench.report.render import MISSING, format_value
from bench.report.significance import format_p
from bench.report.site.content import Configuration, DatasetContent

ORACLE_BADGE = "test-oracle"
ORACLE_MARK = "†"  # on thresholded metrics whose threshold was chosen on the test split


@dataclasses.dataclass(frozen=True)
class Cell:
    """One cell: its text, sort value (None: sort by the text), link, a second line in small type, a badge."""

    text: str
    value: str | None = None
    href: str | None = None
    note: str | None = None
    badge: str | None = None


@dataclasses.dataclass(frozen=True)
class Column:
    """A column header; `kind` "number" sorts numerically."""

    label: str
    kind: str = "text"


@dataclasses.dataclass(frozen=True)
class Row:
    cells: list[Cell]
    cls: str = ""


@dataclasses.dataclass(frozen=True)
class HtmlTable:
    """What the `data_table` template macro renders."""

    id: str
    caption: str
    columns: list[Column]
    rows: list[Row]
    sortable: bool = True
    filterable: bool = False


def missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def number(value: object, fmt: str = ".3f") -> Cell:
    """A number as text with its sort value; `-` when missing."""
    if missing(value):
        return Cell(MISSING, "")
    return Cell(format(float(value), fmt), format(float(value), ".10g"))


def text(value: object) -> Cell:
    """A text cell; `-` for nothing."""
    shown = MISSING if missing(value) or value == "" else str(value)
    return Cell(shown, shown.lower())


def _ci(content: DatasetContent, entry: str, metric: str) -> str | None:
    table = content.table
    if table is None or table.ci_low is None or table.ci_high is None:
        return None
    low, high = table.ci_low.loc[entry, (content.name, metric)], table.ci_high.loc[entry, (content.name, metric)]
    return None if missing(low) or missing(high) else f"95% CI [{low:.3f}, {high:.3f}]"


def ours(row: pd.Series, metric: str, content: DatasetContent, entry: str | None, oracle: bool) -> Cell:
    """Mean ± std over seeds (`(n=k)` when only k seeds have the metric), its CI as a note, † on a test-oracle
    thresholded metric."""
    mean, std, count = (row.get(f"{metric}_{s}") for s in ("mean", "std", "n"))
    seeds = row.get("n_seeds")
    if missing(mean):
        return Cell(MISSING, "")
    shown = format_value(mean, std)
    if not missing(count) and not missing(seeds) and int(count) < int(seeds):
        shown += f" (n={int(count)})"
    if oracle and metric in THRESHOLDED:
        shown += f" {ORACLE_MARK}"
    return Cell(shown, format(float(mean), ".10g"), note=None if entry is None else _ci(content, entry, metric))


def threshold(policy: object, oracle: bool) -> Cell:
    shown = text(policy)
    return dataclasses.replace(shown, badge=ORACLE_BADGE if oracle else None)


def _split(row: pd.Series) -> Cell:
    """The split id and size; a badge where it is not the protocol's reference split (reference_splits)."""
    if missing(row.get("split_id")):
        return text(None)
    size = row.get("image_size")
    cell = text(f"{row['split_id']}, {int(size)} px" if not missing(size) else row["split_id"])
    status = split_status(str(row.get("dataset")), row["split_id"])
    return dataclasses.replace(cell, badge=status if status not in ("", REFERENCE) else None,
                               note="reference split" if status == REFERENCE else None)


def is_oracle(row: pd.Series) -> bool:
    """Whether the row's threshold policy is test-oracle."""
    value = row.get("test_oracle")
    return False if missing(value) else bool(value)


def leaderboard_table(content: DatasetContent, where: str, link: Callable[[Configuration], str]) -> HtmlTable:
    """The data set's leaderboard: our chosen configuration per method beside the papers' rows, with Δ."""
    columns = [Column("Method"), Column("Status"), Column("Seeds", "number")]
    for metric in content.metrics:  # no paper reports localisation: those get our column only
        label = metric_label(metric)
        columns += [Column(label, "number")]
        if metric in METRICS:
            columns += [Column(f"{label} paper", "number"), Column(f"{label} Δ", "number")]
    columns += [Column(c) for c in ("Checkpoint selection", "Threshold policy", "Preset", "Overrides", "Split",
                                    "Commit", "Date", "Paper")]
    rows = []
    for _, row in content.board.iterrows():
        config = content.configuration(row["entry"]) if row["status"] == REPRODUCED else None
        oracle = is_oracle(row)
        paper_name = row.get("paper_method")
        note = f"paper: {paper_name}" if not missing(paper_name) and paper_name != row["method"] else None
        cells = [dataclasses.replace(text(row["method"]), href=link(config) if config else None, note=note),
                 text(row["status"]), number(row["n_seeds"], ".0f")]
        for metric in content.metrics:
            cells.append(ours(row, metric, content, None if config is None else config.entry, oracle))
            if metric in METRICS:
                reported, diff = row[f"{metric}_reported"], row[f"{metric}_diff"]
                cells += [Cell(_paper_cell(reported, math.nan), "" if missing(reported) else f"{reported:.10g}"),
                          number(diff, "+.3f")]
        cells += [text(row["selection"]), threshold(row["threshold_policy"], oracle), text(row["preset"]),
                  text(row["overrides"]), _split(row), text(row["commit"]), text(row["date"]), text(row["source"])]
        own = split_status(str(row["dataset"]), row.get("split_id")) == OWN_SPLIT
        rows.append(Row(cells, " ".join(c for c, on in (("oracle", oracle), ("paper-only", config is None),
                                                        ("own-split", own)) if on)))
    return HtmlTable(f"board-{content.slug}", f"{where}: leaderboard, ours beside the papers", columns, rows,
                     filterable=True)


def configurations_table(content: DatasetContent, where: str, link: Callable[[Configuration], str]) -> HtmlTable:
    """Every method configuration that ran on the data set (the leaderboard shows one per method)."""
    columns = [Column("Configuration"), Column("Seeds", "number"),
               *[Column(metric_label(m), "number") for m in content.metrics],
               *[Column(c) for c in ("Checkpoint selection", "Threshold policy", "Preset", "Overrides", "Split",
                                     "On the leaderboard")]]
    rows = []
    for config in content.configurations:
        row, oracle = config.row, is_oracle(config.row)
        cells = [dataclasses.replace(text(config.entry), href=link(config)), number(row["n_seeds"], ".0f"),
                 *[ours(row, m, content, config.entry, oracle) for m in content.metrics],
                 text(row["selection"]), threshold(row["threshold_policy"], oracle), text(row["preset"]),
                 text(_overrides_text(row)), _split(row), text("yes" if config.chosen else "no")]
        rows.append(Row(cells, "oracle" if oracle else ""))
    return HtmlTable(f"configs-{content.slug}", f"{where}: every configuration that ran", columns, rows,
                     filterable=True)


def summary_table(config: Configuration, content: DatasetContent, paper: pd.Series | None) -> HtmlTable:
    """One configuration's metrics: mean ± std, 95% CI, seeds with the metric, and the paper's number."""
    columns = [Column("Metric"), Column("Mean ± std", "number"), Column("95% CI"), Column("Seeds", "number"),
               Column("Paper", "number"), Column("Δ (ours − paper)", "number")]
    rows, oracle = [], is_oracle(config.row)
    for metric in content.metrics:
        value = ours(config.row, metric, content, config.entry, oracle)
        reported = paper[f"{metric}_reported"] if paper is not None and metric in METRICS else math.nan
        diff = paper[f"{metric}_diff"] if paper is not None and metric in METRICS else math.nan
        rows.append(Row([text(metric_label(metric)), dataclasses.replace(value, note=None),
                         text(value.note.removeprefix("95% CI ") if value.note else None),
                         number(config.row[f"{metric}_n"], ".0f"),
                         Cell(_paper_cell(reported, math.nan), "" if missing(reported) else f"{reported:.10g}"),
                         number(diff, "+.3f")]))
    return HtmlTable(f"summary-{config.slug}", f"{config.entry}: test-split metrics over seeds", columns, rows,
                     sortable=False)


def seeds_table(config: Configuration, scores_href: Callable[[int], str]) -> HtmlTable:
    """Metrics per seed, the decision threshold, the run folder and the scores as CSV."""
    columns = [Column("Seed", "number"), *[Column(metric_label(m), "number") for m in METRICS],
               Column("Threshold", "number"), Column("Run"), Column("Scores")]
    rows = []
    for run in config.runs:
        metrics = run.record.metrics or {}
        cells = [number(run.seed, ".0f"), *[number(metrics.get(m)) for m in METRICS],
                 number(metrics.get("threshold"), ".4g"), text(run.record.run_id),
                 Cell(f"scores-seed{run.seed}.csv", f"seed{run.seed}", href=scores_href(run.seed))]
        rows.append(Row(cells))
    return HtmlTable(f"seeds-{config.slug}", f"{config.entry}: metrics per seed (test split)", columns, rows)


def localisation_table(config: Configuration) -> HtmlTable | None:
    """Pixel metrics of the anomaly maps per seed, where any run scored them (run.json `localisation`)."""
    scored = [(run, (run.record.localisation or {}).get("metrics") or {}) for run in config.runs]
    keys = list(dict.fromkeys(k for _, metrics in scored for k in metrics))
    if not keys:
        return None
    columns = [Column("Seed", "number"), *[Column(metric_label(k), "number") for k in keys]]
    rows = [Row([number(run.seed, ".0f"), *[number(metrics.get(k)) for k in keys]]) for run, metrics in scored]
    return HtmlTable(f"localisation-{config.slug}", f"{config.entry}: localisation metrics of the anomaly maps "
                     "per seed", columns, rows)


def _label(key: str) -> str:
    """`score_test_s` -> `score test (s)`, `peak_rss_mb` -> `peak rss (MB)`."""
    for suffix, unit in (("_s", " (s)"), ("_mb", " (MB)"), ("_gb", " (GB)")):
        if key.endswith(suffix):
            return key.removesuffix(suffix).replace("_", " ") + unit
    return key.replace("_", " ")


def runs_table(config: Configuration) -> HtmlTable:
    """Per seed: commit, finish time, timings, peak memory and device."""
    timing_keys = list(dict.fromkeys(k for run in config.runs for k in run.record.timings))
    memory_keys = list(dict.fromkeys(k for run in config.runs for k in run.record.memory))
    columns = [Column("Seed", "number"), Column("Commit"), Column("Finished"),
               *[Column(_label(k), "number") for k in (*timing_keys, *memory_keys)], Column("Device")]
    rows = []
    for run in config.runs:
        record = run.record
        commit = str(record.git.get("commit") or MISSING)[:10] + (" (dirty)" if record.git.get("dirty") else "")
        device = ", ".join(f"{k} {v}" for k, v in record.device.items())
        cells = [number(run.seed, ".0f"), text(commit), text(record.finished_at),
                 *[number(record.timings.get(k), ".4g") for k in timing_keys],
                 *[number(record.memory.get(k), ".1f") for k in memory_keys], text(device)]
        rows.append(Row(cells))
    return HtmlTable(f"runs-{config.slug}", f"{config.entry}: provenance per seed", columns, rows)


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def settings_table(config: Configuration) -> HtmlTable:
    """The method's full configuration (preset plus overrides, as the run recorded it)."""
    settings = config.runs[0].record.config or {}
    rows = [Row([text(k), text(_value(v))]) for k, v in settings.items()]
    return HtmlTable(f"settings-{config.slug}", "Method configuration (every setting, as run.json records it)",
                     [Column("Setting"), Column("Value")], rows, sortable=False)


def versions_table(config: Configuration) -> HtmlTable:
    """Package versions; where seeds differ, each value with its seeds."""
    packages = list(dict.fromkeys(k for run in config.runs for k in run.record.versions))
    rows = []
    for package in packages:
        by_value: dict[str, list[str]] = {}
        for run in config.runs:
            by_value.setdefault(_value(run.record.versions.get(package, MISSING)), []).append(str(run.seed))
        shown = next(iter(by_value)) if len(by_value) == 1 else "; ".join(
            f"{v} (seed {', '.join(s)})" for v, s in by_value.items())
        rows.append(Row([text(package), text(shown)]))
    return HtmlTable(f"versions-{config.slug}", "Software versions", [Column("Package"), Column("Version")], rows,
                     sortable=False)


def counts_table(config: Configuration) -> HtmlTable:
    """Images per split and label (the split the runs used)."""
    counts = config.runs[0].record.data.counts or {}
    rows = [Row([text(split), number(labels.get("0", 0), ".0f"), number(labels.get("1", 0), ".0f")])
            for split, labels in counts.items()]
    return HtmlTable(f"counts-{config.slug}", "Images per split", [Column("Split"), Column("Normal", "number"),
                     Column("Abnormal", "number")], rows, sortable=False)


def delong_table(content: DatasetContent, where: str, link: Callable[[Configuration], str]) -> HtmlTable:
    """Paired DeLong tests: both AUCs on the same test images, their difference and the two-sided p-value."""
    columns = [Column("Configuration A"), Column("Configuration B"), Column("Seed", "number"),
               Column("Test images", "number"), Column("AUC A", "number"), Column("AUC B", "number"),
               Column("AUC A − B", "number"), Column("DeLong p", "number")]
    rows = []
    for _, test in content.delong.iterrows():
        a, b = content.configuration(test["method_a"]), content.configuration(test["method_b"])
        cells = [dataclasses.replace(text(test["method_a"]), href=link(a) if a else None),
                 dataclasses.replace(text(test["method_b"]), href=link(b) if b else None),
                 number(test["seed"], ".0f"), number(test["n_test"], ".0f"), number(test["auc_a"]),
                 number(test["auc_b"]), number(test["difference"], "+.3f"),
                 Cell(format_p(test["p_value"]), format(float(test["p_value"]), ".10g"))]
        rows.append(Row(cells))
    return HtmlTable(f"delong-{content.slug}", f"{where}: paired DeLong tests of AUC differences", columns, rows,
                     filterable=True)
