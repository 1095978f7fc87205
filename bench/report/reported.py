"""The numbers the papers report (results/reported.csv), as fractions 0-1.

Columns: paper, table, dataset, method (our registry name where we have the method, else the paper's name),
paper_method (as printed), setting (empty for the main table; e.g. "ablation: +ACM"), metric, value (fraction),
reported_as ("fraction": HealthyGAN's Table 1; "percent": SAGAN's Table 2, divided by 100 here) and
reported_value (the text the paper prints).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.core.errors import BenchError
from bench.metrics.table import METRICS

COLUMNS = ("paper", "table", "dataset", "method", "paper_method", "setting", "metric", "value", "reported_as",
           "reported_value")
SHIPPED_PATH = Path(__file__).with_name("reported.csv")  # results/reported.csv in a checkout links here


def load_reported(path: Path = SHIPPED_PATH) -> pd.DataFrame:
    """The reported numbers in `path` (default: the copy bench ships); a missing or malformed file is a
    BenchError."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"no file {path} with the papers' numbers (bench ships one: {SHIPPED_PATH})")
    frame = pd.read_csv(path, dtype={"setting": str, "reported_value": str}, keep_default_na=False,
                        na_values={"value": [""]})
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise BenchError(f"{path} lacks column(s) {', '.join(missing)}")
    problems = []
    bad_metric = sorted(set(frame["metric"]) - set(METRICS))
    if bad_metric:
        problems.append(f"unknown metric(s) {', '.join(bad_metric)}")
    values = pd.to_numeric(frame["value"], errors="coerce")
    if values.isna().any() or not values.between(0, 1).all():
        problems.append("every value must be a fraction between 0 and 1 (convert percent by dividing by 100)")
    if problems:
        raise BenchError(f"{path}: " + "; ".join(problems))
    return frame.assign(value=values)


def main_table(reported: pd.DataFrame) -> pd.DataFrame:
    """(dataset, method) x metric of the papers' main tables (ablations left out), with the paper(s) cited.
    Where two papers report the same cell, the first row in the file wins."""
    rows = reported[reported["setting"] == ""]
    values = rows.drop_duplicates(["dataset", "method", "metric"]).pivot(index=["dataset", "method"],
                                                                        columns="metric", values="value")
    sources = rows.assign(source=rows["paper"] + " " + rows["table"]).groupby(["dataset", "method"])["source"]
    values["source"] = sources.agg(lambda s: "; ".join(dict.fromkeys(s)))
    values["paper_method"] = rows.groupby(["dataset", "method"])["paper_method"].first()
    return values.reset_index()
