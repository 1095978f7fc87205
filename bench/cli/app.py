"""The `bench` command line: a thin Typer shell over the registry, the data engine, the runner and reports.

Exit codes: 0 success, 1 a run or check failed, 2 bad usage or bad input.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.core.errors import BenchError
from bench.core.interrupts import RunInterrupted
from bench.core.os_errors import describe_os_error
from bench.core.terminal import Column, fit_table, terminal_width
from bench.metrics.table import ALL_METRICS, METRICS, TABLE, parse_metrics

app = typer.Typer(help="Benchmark medical-image anomaly detectors.", no_args_is_help=True,
                  pretty_exceptions_enable=False, add_completion=False)
data_app = typer.Typer(help="Prepare and verify data sets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
# COLUMNS, else the terminal's width; piped output (logs, CI) gets 120 columns instead of rich's 80. Set again
# by each command that prints tables (terminal_width), as COLUMNS may change after import.
console = Console(width=terminal_width())
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160, soft_wrap=True)  # one line each

RunsOption = Annotated[Path, typer.Option("--runs", help="Folder of run records.")]
RootOption = Annotated[Path | None, typer.Option("--root", help="Data folder (else $BENCH_DATA_<NAME>).")]
SetOption = Annotated[list[str] | None, typer.Option("--set", help="key=value override (repeatable).")]


def parse_seeds(text: str) -> list[int]:
    """`0,1,2` or `0-4` -> [0, 1, 2] / [0, 1, 2, 3, 4]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            if "-" in part.strip()[1:]:
                low, high = part.split("-", 1)
                seeds += list(range(int(low), int(high) + 1))
            elif part.strip():
                seeds.append(int(part))
    except ValueError:
        raise BenchError(f"--seeds expects integers like 0,1,2 or 0-4, got {text!r}") from None
    if not seeds:
        raise BenchError("--seeds is empty")
    return list(dict.fromkeys(seeds))


@app.command("list")
def list_command() -> None:
    """Methods and data sets, one line each, with origin and setting."""
    from bench.core import registry

    table = Table(title="methods", show_lines=False)
    for column in ("name", "setting", "origin", "summary"):
        table.add_column(column)
    for entry in registry.methods.entries(with_families=True):
        setting = {True: "semi-supervised", False: "one-class", None: "?"}[entry.uses_unlabeled]
        table.add_row(entry.name, setting, entry.origin, entry.summary)
    console.print(table)
    table = Table(title="data sets")
    for column in ("name", "origin", "summary"):
        table.add_column(column)
    for entry in registry.datasets.entries():
        table.add_row(entry.name, entry.origin, entry.summary)
    console.print(table)


@app.command("run")
def run_command(
    methods: Annotated[str, typer.Option("--methods", help="Comma-separated names, or 'all'.")],
    dataset: Annotated[str, typer.Option("--dataset", help="Data set name(s), comma-separated (see `bench list`), "
                                         "or all-real: every data set whose folder is configured.")],
    root: Annotated[list[str] | None, typer.Option("--root", help="Data folder: PATH for one data set, NAME=PATH "
                                                   "per data set (repeatable); else $BENCH_DATA_<NAME>, else the "
                                                   "config file.")] = None,
    seeds: Annotated[str, typer.Option("--seeds", help="Seeds, e.g. 0,1,2 or 0-4.")] = "0",
    preset: Annotated[str, typer.Option("--preset", help="paper | fast | smoke")] = "paper",
    overrides: SetOption = None,
    device: Annotated[str, typer.Option("--device", help="auto | cpu | cuda")] = "auto",
    runs: RunsOption = Path("results/runs"),
    force: Annotated[bool, typer.Option("--force", help="Rerun complete runs.")] = False,
    executor: Annotated[str, typer.Option("--executor", help="local | ray")] = "local",
    threshold: Annotated[str | None, typer.Option("--threshold", help="Threshold policy (default: val-f1 "
                                                  "with a validation split, else normal-quantile:0.95).")] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Wait for runs another process is doing, instead of "
                                       "skipping them.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the planned runs with time, memory and disk "
                                          "estimates (a few timed steps each); write nothing.")] = False,
    track: Annotated[str | None, typer.Option("--track", help="Also log every run to an experiment tracker: "
                                              "mlflow (MLFLOW_TRACKING_URI, default a SQLite store beside "
                                              "--runs).")] = None,
) -> None:
    """Train every selected method on each selected data set, score the test split, write run records."""
    from bench import api
    from bench.core.device import resolve_device
    from bench.core.progress import RichProgress

    if track not in (None, "mlflow"):
        raise BenchError(f"--track must be mlflow, got {track!r}")
    console.width = terminal_width()
    resolve_device(device)
    # One grid: every method x seed x --set point (k=v1,v2: a sweep) x data set, all validated before any data.
    planned = api.plan(methods, dataset, seeds=parse_seeds(seeds), preset=preset, settings=overrides or [],
                       root=root or None, executor=executor, threshold=threshold)
    for line in planned.notes():
        console.print(line, highlight=False, markup=False, soft_wrap=True)  # paths stay whole
    if dry_run:  # before the runs folder and the data: nothing is written or decoded
        api.dry_run(planned, device, console)
        return
    if len(planned.grid.points) > 1:
        console.print(planned.grid.table())
    try:
        with RichProgress(console) as progress:
            results = api.execute(planned, runs=runs, device=device, force=force, wait=wait, progress=progress,
                                  command=["bench", *sys.argv[1:]])
    except RunInterrupted as exc:
        err_console.print(exc.message, highlight=False, markup=False)
        raise typer.Exit(130) from None
    outcomes = results.outcomes
    if track:
        from bench.runs.tracking import track_runs

        track_runs(track, outcomes, runs, warn=lambda line: err_console.print(line, highlight=False, markup=False),
                   info=lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True))
    summary = results.frame
    if not planned.grid.sweep.swept:
        summary = summary.drop(columns="setting")
    for name in planned.grid.datasets:  # one table per data set, with its split(s)
        rows = summary["dataset"] == name
        splits = ", ".join(dict.fromkeys(p.split_id for p in results.prepared if p.dataset == name))
        _print_outcomes(summary[rows], name, splits)
    for outcome in outcomes:
        if outcome.status == "busy":
            err_console.print(f"skipped {outcome.folder}: {outcome.error}", highlight=False, markup=False)
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


STATUS_TEXT = {"failed": "[red]failed[/red]", "skipped": "done before", "busy": "running elsewhere"}
LOW_VALUE_METRICS = ("specificity", "precision", "recall")  # left out first, in this order, where width is short


def _print_outcomes(summary, dataset: str, split_id: str) -> None:
    """The results table of one data set's runs, no wider than the console: short metric headers, then the
    thresholded metrics other than F1 left out (named under the table) where it is narrow. No number wraps."""
    shown = [m for m in TABLE if m.key in summary.columns]  # the image metrics (localisation: bench report)
    setting = ["setting"] if "setting" in summary.columns else []  # a sweep's values per run
    drops = {key: len(LOW_VALUE_METRICS) - i for i, key in enumerate(LOW_VALUE_METRICS)}
    columns = [Column("method", text=True), *(Column(c, text=True) for c in setting), Column("seed"),
               Column("status", text=True),
               *(Column(m.label, m.aliases[0].capitalize() if m.aliases else None, drops.get(m.key, 0))
                 for m in shown)]
    rows = []
    for row in summary.itertuples(index=False):
        cells = ["-" if v is None else f"{v:.3f}" for v in (getattr(row, m.key) for m in shown)]
        rows.append([row.method, *(escape(str(getattr(row, c))) for c in setting), str(row.seed),
                     STATUS_TEXT.get(row.status, row.status), *cells])
    fitted = fit_table(columns, rows, console.width, title=f"{dataset} (split {split_id}), test split")
    console.print(fitted.table)
    if fitted.dropped:
        console.print(f"left out to fit {console.width} columns: {', '.join(fitted.dropped)} (bench report shows "
                      "every metric)", highlight=False, markup=False)


@data_app.command("prepare")
def data_prepare(
    dataset: Annotated[str, typer.Argument(help="Data set name.")],
    root: RootOption = None,
    size: Annotated[int | None, typer.Option("--size", help="Image size (default: the protocol's).")] = None,
    overrides: SetOption = None,
    rehash: Annotated[bool, typer.Option("--rehash", help="Hash every file's bytes and decode again those that "
                                         "changed (also files replaced with the same size and time).")] = False,
) -> None:
    """Decode and cache a data set; print split counts against the protocol."""
    from bench.core.overrides import data_options
    from bench.core.progress import RichProgress
    from bench.data.selection import dataset_adapter

    assignments = data_options(overrides or [])
    if size is not None:
        assignments["size"] = str(size)
    adapter = dataset_adapter(dataset, root, assignments)
    with RichProgress(console) as progress:
        prepared = adapter.prepare(progress, rehash=rehash)
    _print_counts(adapter, prepared.counts(), f"{dataset}: split {prepared.split_id}, {prepared.size} px, "
                  f"{prepared.channels} channel(s), cached")


@data_app.command("verify")
def data_verify(dataset: Annotated[str, typer.Argument(help="Data set name.")], root: RootOption = None,
                overrides: SetOption = None,
                decode: Annotated[bool, typer.Option("--decode", help="Also decode every image once and name "
                                                     "every one that cannot be read.")] = False) -> None:
    """Check the layout and the split counts (`--decode`: every image too); exit 1 with every problem named."""
    from bench.core.errors import DataError
    from bench.core.overrides import data_options
    from bench.core.progress import RichProgress
    from bench.data.adapter import OutsideRootError
    from bench.data.manifest import split_counts, validate_manifest
    from bench.data.selection import dataset_adapter

    adapter = dataset_adapter(dataset, root, data_options(overrides or []))
    try:
        manifest = validate_manifest(adapter.manifest(), dataset=dataset)
    except OutsideRootError:
        raise
    except DataError as exc:
        err_console.print(f"[red]{dataset}: verification failed[/red]\n{escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    ok = _print_counts(adapter, split_counts(manifest), f"{dataset} at {adapter.root}: layout OK")
    if (depths := adapter.bit_depths()) is not None:
        err_console.print(f"warning: {depths}", highlight=False, markup=False)
    if decode:
        with RichProgress(console) as progress:
            n_read, failures = adapter.decode_problems(progress)
        if failures:
            listed = "\n  ".join(failures)
            err_console.print(f"{len(failures)} of {n_read} images could not be decoded:\n  {listed}",
                              highlight=False, markup=False)
            ok = False
        else:
            console.print(f"all {n_read} images decode", highlight=False)
    else:
        console.print("files were not decoded; `bench data verify --decode` reads every image once", highlight=False)
    if not ok:
        raise typer.Exit(1)


def _print_counts(adapter, counts, title: str) -> bool:
    from bench.data.adapter import count_table

    expected = adapter.protocol()
    table = Table(title=title)
    for column in ("split", "label", "images", "protocol"):
        table.add_column(column)
    ok = True
    for split, label, actual, wanted in count_table(counts, expected):
        match = wanted is None or actual == wanted
        ok &= match
        shown = "-" if wanted is None else (str(wanted) if match else f"[red]{wanted}[/red]")
        table.add_row(split, "abnormal" if label else "normal", str(actual), shown)
    console.print(table)
    return ok


RunsTreesOption = Annotated[list[Path] | None, typer.Option(
    "--runs", help="Folder of run records; repeat to merge trees copied from other machines "
    "[default: results/runs].")]
ByOption = Annotated[str | None, typer.Option("--by", help="A swept --set key (e.g. data.anomaly_ratio, acm): "
                                                "its values as columns / the x axis.")]
StrictOption = Annotated[bool, typer.Option("--strict", help="Exit 1 when any run folder had to be left out "
                                            "(each is named on stderr either way).")]


@contextlib.contextmanager
def reported_warnings(strict: bool) -> Iterator[None]:
    """Print each warning raised inside as one stderr line; with `strict`, exit 1 if any run was left out."""
    from bench.report.collect import SkippedRunWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:  # also when the command fails: e.g. "no complete runs" because every run was left out
            for warning in caught:
                err_console.print(f"warning: {warning.message}", highlight=False, markup=False)
    skipped = sum(issubclass(w.category, SkippedRunWarning) for w in caught)
    if strict and skipped:
        err_console.print(f"--strict: {skipped} run folder(s) left out (named above)", highlight=False)
        raise typer.Exit(1)


@app.command("report")
def report_command(
    dataset: Annotated[str, typer.Option("--dataset", help="Data set(s), comma-separated (side by side).")],
    runs: RunsTreesOption = None,
    fmt: Annotated[str, typer.Option("--format", help="latex | md | csv | html")] = "md",
    standalone: Annotated[bool, typer.Option("--standalone", help="A complete document (LaTeX: pdflatex "
                                             "compiles it; HTML: a page).")] = False,
    metrics: Annotated[str | None, typer.Option("--metrics", help=f"Comma-separated, from {', '.join(ALL_METRICS)} "
                                                f"[default: {','.join(METRICS)}].")] = None,
    ci: Annotated[bool, typer.Option("--ci", help="Mean with a 95% bootstrap CI instead of ± std.")] = False,
    compare: Annotated[str | None, typer.Option("--compare", help="Methods to test pairwise (DeLong, "
                                                "same test images), e.g. healthygan,sagan.")] = None,
    layout: Annotated[str, typer.Option("--layout", help="rows: methods as rows | columns")] = "rows",
    methods: Annotated[str | None, typer.Option("--methods", help="Only these methods.")] = None,
    digits: Annotated[int, typer.Option("--digits", help="Decimals.")] = 3,
    strict: StrictOption = False,
    by: ByOption = None,
    ranks: Annotated[bool, typer.Option("--ranks", help="Average ranks across the data sets, Friedman test, "
                                        "Nemenyi p-values and critical difference [metrics default: auc].")] = False,
    reference: Annotated[str | None, typer.Option("--reference", help="Star AUC cells that differ from this "
                                                  "method (DeLong, Holm-adjusted); prints the tests.")] = None,
) -> None:
    """Results tables from run records (nothing is retrained): best bold, second underlined."""
    from bench.report.names import split_names
    from bench.report.report import ReportOptions, report

    options = ReportOptions(datasets=split_names(dataset), fmt=fmt, layout=layout,
                            metrics=parse_metrics(metrics or ("auc" if ranks else None)), ci=ci, standalone=standalone,
                            compare=split_names(compare), methods=split_names(methods), digits=digits,
                            by=by, ranks=ranks, reference=reference)
    with reported_warnings(strict):
        text = report(runs or [Path("results/runs")], options)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")


@app.command("plot")
def plot_command(
    dataset: Annotated[str, typer.Option("--dataset", help="Data set(s), comma-separated.")],
    runs: RunsTreesOption = None,
    to: Annotated[Path, typer.Option("--to", help="Output folder.")] = Path("results/figures"),
    examples: Annotated[int, typer.Option("--examples", help="Normal and abnormal images each in the "
                                          "example grid.")] = 3,
    strict: StrictOption = False,
    by: ByOption = None,
    ranks: Annotated[bool, typer.Option("--ranks", help="The critical-difference diagram across the data sets "
                                        "instead.")] = False,
    metrics: Annotated[str | None, typer.Option("--metrics", help="With --by or --ranks: the metrics plotted "
                                                "[default: auc].")] = None,
) -> None:
    """ROC and PR curves, score histograms and example anomaly maps (PNG + PDF) from run records."""
    from bench.report.figures import write_figures
    from bench.report.names import split_names

    with reported_warnings(strict):
        if by or ranks:  # a sweep's line plot / the rank diagram instead of the per-data-set figures
            from bench.report.sweep_figures import write_by_figures, write_rank_figures

            chosen = parse_metrics(metrics or "auc")
            trees = runs or [Path("results/runs")]
            paths = (write_by_figures(trees, split_names(dataset), by, to, chosen) if by
                     else write_rank_figures(trees, split_names(dataset), to, chosen))
            for path in paths:
                console.print(str(path), highlight=False)
            return
        for name in split_names(dataset):
            for path in write_figures(runs or [Path("results/runs")], name, to, per_class=examples):
                console.print(str(path), highlight=False)


@app.command("leaderboard")
def leaderboard_command(
    runs: RunsTreesOption = None,
    to: Annotated[Path, typer.Option("--to", help="Output folder.")] = Path("results"),
    reported: Annotated[Path | None, typer.Option("--reported", help="The papers' numbers [default: "
                                                  "TO/reported.csv, else the copy bench ships].")] = None,
    strict: StrictOption = False,
) -> None:
    """Write leaderboard.md/.csv/.tex: one row per (data set, method) beside the papers' numbers."""
    from bench.report.leaderboard_files import write_leaderboard

    with reported_warnings(strict):
        for path in write_leaderboard(runs or [Path("results/runs")], to, reported):
            console.print(str(path), highlight=False)


@app.command("site")
def site_command(
    runs: RunsTreesOption = None,
    to: Annotated[Path, typer.Option("--to", help="Output folder (new, empty, or a site written before).")] = Path(
        "site"),
    reported: Annotated[Path | None, typer.Option("--reported", help="The papers' numbers [default: the copy "
                                                  "bench ships].")] = None,
    strict: StrictOption = False,
) -> None:
    """Write the leaderboard as a static website (open TO/index.html, or push TO to any static host)."""
    from bench.report.site.build import write_site

    with reported_warnings(strict):
        index = write_site(runs or [Path("results/runs")], to, reported)
    console.print(f"site written: {index} ({index.resolve().as_uri()})", highlight=False, soft_wrap=True)


@app.command("compare")
def compare_command(
    run_a: Annotated[Path, typer.Argument(help="Run folder (or its run.json).")],
    run_b: Annotated[Path, typer.Argument(help="Run folder (or its run.json).")],
    show_all: Annotated[bool, typer.Option("--all", help="Also what did not change.")] = False,
) -> None:
    """Two runs side by side: what changed (config, data, threshold) and what it did (metrics, DeLong)."""
    from bench.report.compare import compare_runs, section_tables

    for table in section_tables(compare_runs(run_a, run_b, show_all=show_all)):
        console.print(table)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (a scheduler's stop, `kill`) ends a run as Ctrl-C does: recorded as interrupted, resumable."""
    raise KeyboardInterrupt


def main() -> None:
    """Console-script entry point: user errors print one line and exit 2."""
    signal.signal(signal.SIGTERM, _terminate)
    # A shell starts background jobs (`bench run ... &` in a script) with SIGINT ignored, and Python then keeps it
    # ignored: `kill -INT` would do nothing. A run's Ctrl-C is defined (recorded as interrupted, resumable), so
    # SIGINT always stops it.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        exit_code = app(standalone_mode=False)  # without standalone mode, click returns typer.Exit's code
    except BenchError as exc:
        err_console.print(f"[bold red]error:[/bold red] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except PermissionError as exc:
        where = exc.filename or "a file"
        err_console.print(f"[bold red]error:[/bold red] permission denied: {escape(str(where))}; make it writable, "
                          "or point --runs / BENCH_CACHE elsewhere", highlight=False)
        sys.exit(2)
    except OSError as exc:  # a folder that cannot be made (--to /proc/x), a full disk: one line, not a traceback
        err_console.print(f"[bold red]error:[/bold red] {escape(describe_os_error(exc))}", highlight=False)
        sys.exit(2)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:  # click turns Ctrl-C / SIGTERM outside a run into Abort
        err_console.print("interrupted; nothing half-written was kept: run the same command again to continue")
        sys.exit(130)
    except KeyboardInterrupt:
        err_console.print("interrupted; nothing half-written was kept: run the same command again to continue")
        sys.exit(130)
    except Exception as exc:
        # Usage errors from the click that typer vendors (typer._click): recognised by their interface.
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            sys.exit(exc.exit_code)
        raise
    if isinstance(exit_code, int) and exit_code:
        sys.exit(exit_code)


if __name__ == "__main__":
    main()
