"""`bench compare RUN_A RUN_B`: two runs' records side by side, what changed (configuration, data, threshold,
provenance) and what it did (metrics with B - A, their CIs, and a paired DeLong test when both runs scored the
same test images)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.errors import BenchError
from bench.metrics.image import delong_test
from bench.metrics.table import LOCALISATION_METRICS, METRICS
from bench.runs.folder import RUN_FILE, SCORES_FILE, read_record
from bench.runs.scan import load_scores

IDENTITY = ("method", "dataset", "seed", "preset", "run_id", "status", "threshold_policy", "test_oracle",
            "selection", "data.split_id", "data.images_id", "data.image_size")
SECTIONS = {"configuration": ("overrides", "data_overrides", "config", "data.options", "data.counts",
                              "data.n_"),
            "cost": ("timings", "memory"),
            "provenance": ("versions", "git", "device", "started_at", "finished_at", "segments", "data.root")}


def resolve_run(path: Path | str) -> Path:
    """A run folder from a folder or its run.json; a BenchError when there is no run record."""
    path = Path(path)
    folder = path.parent if path.name == RUN_FILE else path
    if not (folder / RUN_FILE).is_file():
        raise BenchError(f"{path} is not a run folder (no {RUN_FILE})")
    read_record(folder)  # an unreadable or future-schema record: one line saying so
    return folder


def flatten(record: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> {"a.b.c": value}; lists stay values."""
    if not isinstance(record, dict):
        return {prefix: record}
    flat: dict[str, Any] = {}
    for key, value in record.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list) and all(isinstance(v, float) for v in value):
        return "[" + ", ".join(f"{v:.4f}" for v in value) + "]"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _matches(key: str, prefixes: tuple[str, ...]) -> bool:
    """`key` is a prefix or lies under one (`config` -> `config.lr`; a prefix ending in `_` matches its stem)."""
    return any(key == p or key.startswith(p if p.endswith("_") else p + ".") for p in prefixes)


def _section(a: dict[str, Any], b: dict[str, Any], prefixes: tuple[str, ...], *, changed_only: bool
             ) -> pd.DataFrame:
    keys = sorted(k for k in set(a) | set(b) if _matches(k, prefixes))
    rows = [{"key": k, "A": _text(a.get(k)), "B": _text(b.get(k))} for k in keys]
    frame = pd.DataFrame(rows, columns=["key", "A", "B"])
    frame["changed"] = frame["A"] != frame["B"]
    return frame[frame["changed"]] if changed_only else frame


def _metrics(a: dict[str, Any], b: dict[str, Any]) -> pd.DataFrame:
    rows = []
    keys = [(m, f"metrics.{m}", f"ci95.{m}") for m in (*METRICS, "threshold")]
    keys += [(m, f"localisation.metrics.{m}", f"localisation.ci95.{m}") for m in LOCALISATION_METRICS
             if f"localisation.metrics.{m}" in a or f"localisation.metrics.{m}" in b]
    for metric, key, ci_key in keys:
        value_a, value_b = a.get(key), b.get(key)
        both = isinstance(value_a, int | float) and isinstance(value_b, int | float)
        rows.append({"metric": metric, "A": _text(value_a), "B": _text(value_b),
                     "B - A": f"{value_b - value_a:+.4f}" if both else "-",
                     "CI A": _text(a.get(ci_key)), "CI B": _text(b.get(ci_key))})
    return pd.DataFrame(rows)


def paired_test(folder_a: Path, folder_b: Path) -> dict[str, float] | None:
    """DeLong's test of the two runs' AUCs when both scored the same test images (else None)."""
    if not ((folder_a / SCORES_FILE).is_file() and (folder_b / SCORES_FILE).is_file()):
        return None
    tests = [load_scores(f).query("split == 'test'").set_index("id").sort_index() for f in (folder_a, folder_b)]
    if not tests[0].index.equals(tests[1].index) or not (tests[0]["label"] == tests[1]["label"]).all():
        return None
    return delong_test(tests[0]["label"].to_numpy(), tests[0]["score"].to_numpy(), tests[1]["score"].to_numpy())


def compare_runs(run_a: Path | str, run_b: Path | str, *, show_all: bool = False) -> dict[str, pd.DataFrame]:
    """Sections by name: identity, configuration, metrics, (delong,) cost, provenance. Configuration and
    provenance list only what changed unless `show_all`."""
    folder_a, folder_b = resolve_run(run_a), resolve_run(run_b)
    a, b = flatten(read_record(folder_a).to_dict()), flatten(read_record(folder_b).to_dict())
    sections = {"identity": _section(a, b, IDENTITY, changed_only=False),
                "configuration": _section(a, b, SECTIONS["configuration"], changed_only=not show_all),
                "metrics": _metrics(a, b)}
    test = paired_test(folder_a, folder_b)
    if test is not None:
        sections["delong"] = pd.DataFrame([{"AUC A": f"{test['auc_a']:.4f}", "AUC B": f"{test['auc_b']:.4f}",
                                            "B - A": f"{-test['difference']:+.4f}", "z (B - A)": f"{-test['z']:.3f}",
                                            "p (two-sided)": f"{test['p_value']:.4g}"}])
    sections["cost"] = _section(a, b, SECTIONS["cost"], changed_only=False)
    sections["provenance"] = _section(a, b, SECTIONS["provenance"], changed_only=not show_all)
    return sections


def section_tables(sections: dict[str, pd.DataFrame]) -> list[Any]:
    """The sections as rich tables, changed values highlighted (for the terminal)."""
    from rich.table import Table

    tables = []
    for name, frame in sections.items():
        table = Table(title=name, title_justify="left")
        shown = [c for c in frame.columns if c != "changed"]
        for column in shown:
            table.add_column(column, overflow="fold")
        for _, row in frame.iterrows():
            style = "bold yellow" if row.get("changed", False) and name != "cost" else None
            table.add_row(*[str(row[c]) for c in shown], style=style)
        if not len(frame):
            table.add_row(*["(no differences)", *[""] * (len(shown) - 1)])
        tables.append(table)
    return tables
