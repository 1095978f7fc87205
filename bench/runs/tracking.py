"""Experiment tracking: `bench run --track mlflow` copies each run record into MLflow after the grid finishes.

The run folder stays the source of truth; MLflow gets a copy for browsing and comparing. Tracking never fails a
run: any error becomes one warning line (per run, or one for the whole store when it cannot be opened) and the
exit code is whatever the runs decided.

What one bench run becomes in MLflow (experiment `bench-<dataset>`, run name `<method> <config_id> seed<n>`):
- params: method, dataset, preset, seed, config id, run id, split and images ids, image size, threshold policy,
  checkpoint selection, each `--set` override (`set.<key>`, `set.data.<key>`), the resolved method config
  (`config.<field>`) and the data options (`data.<option>`);
- metrics: the image metrics under run.json's own keys (`auc`, `ap`, `f1`, ...), the pixel metrics where the run
  has them (`pixel_auroc`, `aupro`, ...), bootstrap CIs (`<key>_ci95_low` / `_high`), `timing/<name>` and
  `memory/<name>`; a GAN's `losses.csv` as curves (`loss/<column>`, `lr...` columns as they are; step = iteration);
- artifacts: run.json, scores.parquet, losses.csv and the figures in the folder (`*.png`, `*.svg`, `*.pdf`,
  `figures/`); never checkpoints or weights;
- tags: `bench.run_key` (`<dataset>/<method>/<run id>`, the folder's place under --runs), `bench.record_sha256`
  (of run.json's bytes), `bench.finished_at`, `bench.folder` (absolute path), `bench.status`, `bench.error` for a
  failed run, the git commit.

Idempotent: a run is logged once per (run key, run.json digest). Re-running `--track mlflow` over done runs (or
over a copy of the results folder) logs nothing new; `--force` writes a new run.json (new times and timings), so
the new result becomes a new MLflow run beside the old one. Only MLflow runs that finished logging (tag
`bench.logged=complete`, set last) count, so a run half-logged by a crash is logged again. Failed runs are
logged with MLflow status FAILED (params, the error, run.json with its traceback); runs another process holds
("busy") are left to that process. Two processes logging into one local SQLite store take turns (`<db>.lock`
beside it), so the check for what is logged and the logging are one step.

Where: `MLFLOW_TRACKING_URI` when set, else a SQLite store beside the runs folder, `<runs>/../mlflow.db` (with
the default `--runs results/runs`, `results/mlflow.db`). For a local SQLite store, new experiments keep their
artifacts in `mlartifacts/<experiment>` beside the .db file (MLflow's own default is `./mlruns` under whatever
folder the command ran in).
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import datetime as dt
import hashlib
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from bench.runs.folder import RUN_FILE, SCORES_FILE, read_record
from bench.runs.lock import RunLock, RunLocked
from bench.runs.plan import RunOutcome
from bench.runs.record import RunRecord

INSTALL_HINT = "pip install 'medad-bench[mlflow]'"
DB_NAME = "mlflow.db"
LOGGED_TAG = "bench.logged"  # set last: a run without it was cut off while logging
FIGURE_SUFFIXES = (".png", ".svg", ".pdf", ".jpg", ".jpeg")
LOSSES_FILE = "losses.csv"
STORE_LOCK_SUFFIX = ".lock"  # mlflow.db.lock beside mlflow.db: one process logs into a local store at a time
# MLflow's per-request limits for log_batch (REST and SQL stores alike)
MAX_PARAMS, MAX_METRICS = 100, 1000
MAX_PARAM_CHARS, MAX_TAG_CHARS = 6000, 5000  # MLflow 2.12's limits per value (3.x allows more)
_STATUS = {"complete": "FINISHED", "failed": "FAILED"}


@dataclasses.dataclass
class TrackingSummary:
    """What one `track_runs` call did: MLflow run ids it created, run folders already logged, failures."""

    uri: str | None = None
    logged: list[str] = dataclasses.field(default_factory=list)
    already: list[Path] = dataclasses.field(default_factory=list)
    failed: list[Path] = dataclasses.field(default_factory=list)
    experiments: dict[str, str] = dataclasses.field(default_factory=dict)  # name -> id


def default_tracking_uri(runs: Path) -> str:
    """`MLFLOW_TRACKING_URI` when set, else `sqlite:///<absolute runs folder's parent>/mlflow.db`."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(runs).resolve().parent / DB_NAME}"


def experiment_name(dataset: str) -> str:
    """One MLflow experiment per data set: runs on different data are not comparable."""
    return f"bench-{dataset}"


def track_runs(kind: str, outcomes: Iterable[RunOutcome], runs: Path, warn: Callable[[str], None],
               info: Callable[[str], None] | None = None) -> TrackingSummary:
    """Log every finished run of `outcomes` (complete, skipped = done before, failed) to the tracker `kind`
    (only "mlflow"). Never raises: a missing mlflow, an unusable store or a run that cannot be logged each give
    one `warn` line; `info` (default `warn`) gets one closing line saying where the runs went."""
    summary = TrackingSummary()
    if kind != "mlflow":
        warn(f"tracking: unknown tracker {kind!r} (only mlflow); nothing was logged")
        return summary
    outcomes = [o for o in outcomes if o.status in ("complete", "skipped", "failed")]
    if not outcomes:
        return summary
    try:
        with _quiet_mlflow():
            from mlflow.tracking import MlflowClient
    except ImportError:
        warn(f"--track mlflow: mlflow is not installed ({INSTALL_HINT}); the runs were not logged, their "
             "folders are complete")
        return summary
    except Exception as exc:  # a broken install fails on import with anything
        warn(f"--track mlflow: cannot import mlflow ({_one_line(exc)}); the runs were not logged")
        return summary
    summary.uri = uri = default_tracking_uri(runs)
    with _store_lock(uri, info or warn):
        if _log_outcomes(MlflowClient, uri, outcomes, summary, warn):
            names = ", ".join(f"{name} (id {eid})" for name, eid in summary.experiments.items())
            already = f", {len(summary.already)} logged before" if summary.already else ""
            (info or warn)(f"mlflow: logged {len(summary.logged)} run(s){already} to {names} at {uri}")
    return summary


def _log_outcomes(client_class: Any, uri: str, outcomes: list[RunOutcome], summary: TrackingSummary,
                  warn: Callable[[str], None]) -> bool:
    """Log each outcome not logged before into `summary`; False when the store as a whole cannot be used."""
    try:
        with _quiet_mlflow():
            client = client_class(tracking_uri=uri)
            logged = {}  # experiment id -> {(run key, run.json digest)}
            for dataset in dict.fromkeys(o.spec.dataset for o in outcomes):
                eid = _experiment(client, experiment_name(dataset), uri)
                summary.experiments[experiment_name(dataset)] = eid
                logged[eid] = _logged_keys(client, eid)
    except Exception as exc:  # the store as a whole: one line, not one per run
        warn(f"--track mlflow: cannot use the tracking store {uri} ({_one_line(exc)}); {len(outcomes)} run(s) "
             "not logged, their folders are complete")
        return False
    for outcome in outcomes:
        try:
            with _quiet_mlflow():
                record = read_record(outcome.folder)
                eid = summary.experiments[experiment_name(outcome.spec.dataset)]
                key = (run_key(outcome.folder), record_digest(outcome.folder))
                if key in logged[eid]:
                    summary.already.append(outcome.folder)
                    continue
                summary.logged.append(log_run(client, eid, outcome.folder, record))
                logged[eid].add(key)
        except Exception as exc:
            summary.failed.append(outcome.folder)
            warn(f"--track mlflow: could not log {outcome.folder} ({_one_line(exc)}); the run folder is unaffected")
    return True


@contextlib.contextmanager
def _store_lock(uri: str, info: Callable[[str], None]) -> Iterator[None]:
    """Hold `<db>.lock` beside a local SQLite store while logging, so two `bench run --track` processes on one
    store (say two terminals, or a grid and a rerun) cannot both find a run unlogged and log it twice. A server
    store (http://...) is left to the server; a lock that cannot be created (read-only folder) is skipped and the
    store's own error, if any, is reported as usual."""
    database = _sqlite_file(uri)
    with contextlib.ExitStack() as held:
        if database is not None:
            folder, name = database.parent, database.name + STORE_LOCK_SUFFIX
            try:
                try:
                    held.enter_context(RunLock(folder, file=name))
                except RunLocked as busy:
                    info(f"mlflow: waiting for {busy.holder}, which is logging to {database}")
                    held.enter_context(RunLock(folder, file=name, wait=True))
            except OSError:
                pass  # no lock where none can be made; the store's own error, if any, is one warning as usual
        yield


def run_key(folder: Path) -> str:
    """`<dataset>/<method folder>/<run id>`: the folder's place under any runs root (a copied results folder
    keeps its keys)."""
    return "/".join(Path(folder).parts[-3:])


def record_digest(folder: Path) -> str:
    """sha256 of run.json's bytes (16 hex digits): the same record is logged once, a rewritten one again."""
    return hashlib.sha256((Path(folder) / RUN_FILE).read_bytes()).hexdigest()[:16]


def log_run(client: Any, experiment_id: str, folder: Path, record: RunRecord) -> str:
    """Create one MLflow run from a run folder and its record; returns the MLflow run id. On an error the
    half-made MLflow run is deleted (best effort) and the error raised."""
    folder = Path(folder)
    started, finished = _millis(record.started_at), _millis(record.finished_at)
    tags = {"bench.run_key": run_key(folder), "bench.record_sha256": record_digest(folder),
            "bench.finished_at": record.finished_at or "",
            "bench.folder": str(folder.resolve()), "bench.status": record.status}
    if record.git.get("commit"):
        tags["mlflow.source.git.commit"] = str(record.git["commit"])
    if record.error:
        tags["bench.error"] = _clip(record.error, MAX_TAG_CHARS)
    run = client.create_run(experiment_id, start_time=started, tags=tags,
                            run_name=f"{record.method} {record.config_id} seed{record.seed}")
    run_id = run.info.run_id
    try:
        from mlflow.entities import Metric, Param

        stamp = finished or started or _millis(None)
        params = [Param(_key(k), _clip(v)) for k, v in params_of(record).items()]
        metrics = [Metric(_key(k), v, stamp, 0) for k, v in metrics_of(record).items()]
        metrics += [Metric(_key(k), v, stamp, step) for k, step, v in curves_of(folder / LOSSES_FILE)]
        for chunk in _chunks(params, MAX_PARAMS):
            client.log_batch(run_id, params=chunk)
        for chunk in _chunks(metrics, MAX_METRICS):  # losses.csv can have thousands of rows
            client.log_batch(run_id, metrics=chunk)
        for path in artifacts_of(folder):
            client.log_artifact(run_id, str(path), artifact_path="figures" if path.parent.name == "figures" else None)
        client.set_tag(run_id, LOGGED_TAG, "complete")
        client.set_terminated(run_id, status=_STATUS.get(record.status, "KILLED"), end_time=finished)
    except BaseException:
        with contextlib.suppress(Exception):
            client.delete_run(run_id)
        raise
    return run_id


def params_of(record: RunRecord) -> dict[str, str]:
    """The run's settings as MLflow params (strings): identity, overrides, resolved config, data options."""
    data = record.data
    out: dict[str, Any] = {"method": record.method, "dataset": record.dataset, "preset": record.preset,
                           "seed": record.seed, "config_id": record.config_id, "run_id": record.run_id,
                           "split_id": data.split_id, "images_id": data.images_id, "image_size": data.image_size,
                           "threshold_policy": record.threshold_policy, "test_oracle": record.test_oracle,
                           "selection": record.selection}
    out.update({f"set.{k}": v for k, v in record.overrides.items()})
    out.update({f"set.data.{k}": v for k, v in record.data_overrides.items()})
    out.update({f"config.{k}": v for k, v in (record.config or {}).items()})
    out.update({f"data.{k}": v for k, v in data.options.items()})
    return {k: str(v) for k, v in out.items() if v is not None}


def metrics_of(record: RunRecord) -> dict[str, float]:
    """Final metrics: image metrics under run.json's keys, pixel metrics (`pixel.<key>` only if a name clashes),
    bootstrap CIs, timings and memory. Values that are not numbers (None) are left out."""
    out: dict[str, float] = {}
    image = record.metrics or {}
    pixel = (record.localisation or {}).get("metrics") or {}
    out.update(image)
    out.update({(f"pixel.{k}" if k in image else k): v for k, v in pixel.items()})
    cis = {**record.ci95, **((record.localisation or {}).get("ci95") or {})}
    for key, bounds in cis.items():
        if isinstance(bounds, list | tuple) and len(bounds) == 2:
            out[f"{key}_ci95_low"], out[f"{key}_ci95_high"] = bounds
    out.update({f"timing/{k}": v for k, v in record.timings.items()})
    out.update({f"memory/{k}": v for k, v in record.memory.items()})
    return {k: float(v) for k, v in out.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def curves_of(path: Path) -> list[tuple[str, int, float]]:
    """`(metric key, iteration, value)` for each cell of a GAN's losses.csv (none when there is no file).
    Named as the TensorBoard mirror names them: `loss/<column>`, `lr...` columns as they are."""
    if not path.is_file():
        return []
    out = []
    with open(path, newline="") as handle:
        for row in csv.DictReader(handle):
            step = int(float(row["iteration"]))
            for name, cell in row.items():
                if name == "iteration" or name is None or cell in (None, ""):
                    continue  # a column added mid-run is empty in the rows before it
                with contextlib.suppress(ValueError):
                    out.append((name if name.startswith("lr") else f"loss/{name}", step, float(cell)))
    return out


def artifacts_of(folder: Path) -> list[Path]:
    """run.json, scores.parquet, losses.csv and the figures; not checkpoints, weights or sample-map arrays."""
    named = [folder / name for name in (RUN_FILE, SCORES_FILE, LOSSES_FILE)]
    figures = [*folder.glob("*"), *(folder / "figures").glob("*")]
    return [p for p in named if p.is_file()] + sorted(p for p in figures
                                                      if p.is_file() and p.suffix.lower() in FIGURE_SUFFIXES)


def _experiment(client: Any, name: str, uri: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = _artifact_root(uri)
    try:
        return client.create_experiment(name, artifact_location=None if location is None else str(location / name))
    except Exception:  # another process created it between the two calls
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found.experiment_id


def _artifact_root(uri: str) -> Path | None:
    """`mlartifacts/` beside a local SQLite file; None (the server's choice) for any other store."""
    database = _sqlite_file(uri)
    return None if database is None else database.parent / "mlartifacts"


def _sqlite_file(uri: str) -> Path | None:
    """The database file of a local SQLite store URI; None for any other store."""
    match = re.fullmatch(r"sqlite:///(.+)", uri)
    if not match or match.group(1).startswith(":memory:"):
        return None
    return Path(match.group(1)).resolve()


def _logged_keys(client: Any, experiment_id: str) -> set[tuple[str, str]]:
    """(run key, run.json digest) of every run in the experiment that finished logging."""
    keys, token = set(), None
    while True:
        page = client.search_runs([experiment_id], filter_string=f"tags.`{LOGGED_TAG}` = 'complete'",
                                  max_results=1000, page_token=token)
        for run in page:
            tags = run.data.tags
            keys.add((tags.get("bench.run_key", ""), tags.get("bench.record_sha256", "")))
        token = page.token
        if not token:
            return keys


@contextlib.contextmanager
def _quiet_mlflow() -> Iterator[None]:
    """MLflow and alembic log INFO lines (database migrations) and warnings to stderr; the user asked for a run,
    so only our own lines show."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING if lg.name == "alembic" else logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _millis(stamp: str | None) -> int:
    """An ISO time from run.json as epoch milliseconds (now when missing or unreadable)."""
    try:
        return int(dt.datetime.fromisoformat(stamp).timestamp() * 1000) if stamp else _now_ms()
    except ValueError:
        return _now_ms()


def _now_ms() -> int:
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)


def _key(name: str) -> str:
    """MLflow keys allow letters, digits, `_ - . / :` and spaces; anything else becomes `_`."""
    return re.sub(r"[^\w\-./: ]", "_", name)[:250]


def _clip(value: str, limit: int = MAX_PARAM_CHARS) -> str:
    return value if len(value) <= limit else value[:limit - 3] + "..."


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text[:300]}"


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
