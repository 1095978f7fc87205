"""The site's pages as text: the Jinja2 templates of templates/ filled from content.py's data.

Layout (every link relative, so the folder works from file:// and under any path on a static host):
`index.html`; `assets/site.css`, `assets/site.js`; per data set `<set>/compare.html`, and per configuration
`<set>/<configuration>.html` with its figures and scores CSVs in `<set>/<configuration>/`.
"""

from __future__ import annotations

import functools
import json

import jinja2
import pandas as pd
from markupsafe import Markup

from bench.report.leaderboard import RULE
from bench.report.leaderboard_files import NOTE
from bench.report.names import dataset_label
from bench.report.site import tables
from bench.report.site.content import Configuration, DatasetContent
from bench.report.site.images import Image

ASSETS = ("site.css", "site.js")


@functools.cache
def environment() -> jinja2.Environment:
    """Templates from the package (autoescaped; an undefined name is an error, not an empty string)."""
    return jinja2.Environment(loader=jinja2.PackageLoader("bench.report.site", "templates"), autoescape=True,
                              undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                              keep_trailing_newline=True)


def _render(template: str, **context: object) -> str:
    context.setdefault("crumbs", [])
    return environment().get_template(template).render(oracle_badge=tables.ORACLE_BADGE,
                                                        oracle_mark=tables.ORACLE_MARK, **context)


def page_path(content: DatasetContent, config: Configuration) -> str:
    """A configuration's page, relative to the site's root."""
    return f"{content.slug}/{config.slug}.html"


def compare_path(content: DatasetContent) -> str:
    return f"{content.slug}/compare.html"


def _seeds_text(configuration: Configuration) -> str:
    seeds = [str(run.seed) for run in configuration.runs]
    return f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(seeds)})"


def _summary(content: DatasetContent) -> str:
    n = len(content.configurations)
    if n:
        return f"{n} configuration{'s' if n != 1 else ''}"
    return "papers' numbers only"


def _forest(content: DatasetContent, label: str) -> Markup | None:
    """The data set's forest plot (bench.report.site.forest), markup built with every text escaped."""
    from bench.report.site.forest import forest_svg

    svg = forest_svg(content, label)
    return None if svg is None else Markup(svg)  # noqa: S704 - forest_svg escapes every text it writes


def index_page(contents: list[DatasetContent]) -> str:
    """The leaderboards of every data set, with the filter box."""
    datasets = []
    for content in contents:
        label = dataset_label(content.name)

        def link(config: Configuration, content: DatasetContent = content) -> str:
            return page_path(content, config)

        datasets.append({
            "label": label, "anchor": f"set-{content.slug}", "summary": _summary(content),
            "compare_href": compare_path(content) if content.configurations else None,
            "board": tables.leaderboard_table(content, label, link),
            "forest": _forest(content, label),
            "configurations": tables.configurations_table(content, label, link) if content.configurations else None,
        })
    return _render("index.html", root="", title="Leaderboard", datasets=datasets, note=NOTE, rule=RULE)


def _facts(config: Configuration) -> list[tuple[str, str]]:
    """The configuration's identity, shared by its seeds."""
    row, first = config.row, config.runs[0].record

    def plain(value: object) -> str:
        return "-" if tables.missing(value) or value in ("", "{}") else str(value)

    overrides = json.loads(row["overrides"])
    data_overrides = json.loads(row["data_overrides"])
    return [
        ("Data set", f"{dataset_label(config.dataset)} ({config.dataset})"), ("Method", config.method),
        ("Preset", plain(row["preset"])), ("Configuration id", plain(row["run_config"])),
        ("Overrides (--set)", " ".join(f"{k}={v}" for k, v in overrides.items()) or "none"),
        ("Data overrides (--set data.)", " ".join(f"data.{k}={v}" for k, v in data_overrides.items()) or "none"),
        ("Threshold policy", plain(row["threshold_policy"]) + (" (test-oracle)" if tables.is_oracle(row) else "")),
        ("Checkpoint selection", plain(row["selection"])),
        ("Split (manifest hash)", plain(row["split_id"])), ("Images (decoded-image hash)", plain(row["images_id"])),
        ("Image size", f"{plain(row['image_size'])} px, {plain(first.data.channels)} channel(s)"),
        ("Seeds", _seeds_text(config)), ("Commits", plain(row["commits"])),
    ]


def configuration_page(content: DatasetContent, config: Configuration, images: list[Image]) -> str:
    """One configuration: results, per-seed metrics, figures, downloads and provenance."""
    label = dataset_label(content.name)
    paper = None
    if config.chosen:
        board = content.board[content.board["entry"] == config.entry]
        paper = board.iloc[0] if len(board) else None
    oracle = tables.is_oracle(config.row)

    def scores_href(seed: int) -> str:
        return f"{config.slug}/scores-seed{seed}.csv"

    return _render(
        "configuration.html", root="../", title=f"{config.entry} on {label}",
        crumbs=[(label, f"../index.html#set-{content.slug}"), (config.entry, None)],
        entry=config.entry, dataset_label=label, method=config.method, seeds=_seeds_text(config),
        threshold=tables.text(config.row["threshold_policy"]).text, oracle=oracle,
        selection=tables.text(config.row["selection"]).text, chosen=config.chosen, compare_href="compare.html",
        summary=tables.summary_table(config, content, paper), seeds_table=tables.seeds_table(config, scores_href),
        localisation=tables.localisation_table(config), images=images, folder=f"{config.slug}/",
        downloads=[(f"Scores, seed {run.seed} (CSV)", scores_href(run.seed)) for run in config.runs],
        facts=_facts(config), runs_table=tables.runs_table(config), settings=tables.settings_table(config),
        counts=tables.counts_table(config), versions=tables.versions_table(config))


def compare_page(content: DatasetContent, images: list[Image]) -> str:
    """The data set's DeLong table and its overlay figures."""
    label = dataset_label(content.name)

    def link(config: Configuration) -> str:
        return f"{config.slug}.html"

    return _render(
        "compare.html", root="../", title=f"Comparing configurations on {label}",
        crumbs=[(label, f"../index.html#set-{content.slug}"), ("Comparison", None)], dataset_label=label,
        delong=tables.delong_table(content, label, link), n_configurations=len(content.configurations),
        configurations=[(c.entry, link(c)) for c in content.configurations], images=images, folder="compare/")


def scores_csv(scores: pd.DataFrame) -> bytes:
    """A run's scores as CSV (full float precision, `\\n` line ends)."""
    return scores.to_csv(index=False, lineterminator="\n").encode()
