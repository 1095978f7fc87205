"""Paired DeLong tests between methods on the same test images, from saved scores (`bench report --compare`).

Runs pair up by data set and seed; a pair is tested only when both runs scored the same test images (same ids and
labels). One row per pair and seed: the p-values of different seeds are not combined into one. The tests of one
report are one family: `with_holm` adds Holm's step-down adjusted p-values (statsmodels' multipletests) across all of
them; `--reference` tests every entry against one and marks the cells where it differs in every seed.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from bench.core.errors import BenchError
from bench.metrics.image import delong_test
from bench.report.names import dataset_label
from bench.report.table import ReportTable
from bench.runs.scan import load_scores

COLUMNS = ["dataset", "method_a", "method_b", "seed", "n_test", "auc_a", "auc_b", "difference", "p_value"]
ALPHA = 0.05
HOLM_NOTE = "Holm's step-down adjustment across the {n} tests of this table"


def select_entries(table: ReportTable, names: Sequence[str]) -> list[str]:
    """Entries named exactly, or all entries of a named method; an unknown name is an error."""
    chosen: list[str] = []
    for name in names:
        matches = [e for e in table.entries if e == name] or \
                  sorted(set(table.summary.loc[table.summary["method"] == name, "entry"]))
        if not matches:
            raise BenchError(f"--compare: no runs of {name!r} in this table; entries: {', '.join(table.entries)}")
        chosen += [m for m in matches if m not in chosen]
    if len(chosen) < 2:
        raise BenchError("--compare needs at least two methods (e.g. --compare healthygan,sagan)")
    return chosen


def _test_split(folder: str) -> pd.DataFrame:
    scores = load_scores(Path(folder))
    return scores[scores["split"] == "test"].set_index("id").sort_index()


def _seed_of(folder: str, runs: pd.DataFrame) -> int:
    return int(runs.loc[runs["folder"] == folder, "seed"].iloc[0])


def paired_delong(table: ReportTable, runs: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
    """One row per (data set, pair of entries, shared seed): both AUCs, their difference and DeLong's p-value.
    `runs` is the runs_frame the table was built from (for the seeds of the run folders)."""
    entries = select_entries(table, names)
    rows = []
    for dataset in table.datasets:
        summary = table.summary[table.summary["dataset"] == dataset].set_index("entry")
        for entry_a, entry_b in itertools.combinations(entries, 2):
            if entry_a not in summary.index or entry_b not in summary.index:
                continue
            folders_a = {_seed_of(f, runs): f for f in summary.loc[entry_a, "folders"]}
            folders_b = {_seed_of(f, runs): f for f in summary.loc[entry_b, "folders"]}
            for seed in sorted(set(folders_a) & set(folders_b)):
                test_a, test_b = _test_split(folders_a[seed]), _test_split(folders_b[seed])
                if not test_a.index.equals(test_b.index) or not (test_a["label"] == test_b["label"]).all():
                    continue
                result = delong_test(test_a["label"].to_numpy(), test_a["score"].to_numpy(),
                                     test_b["score"].to_numpy())
                rows.append({"dataset": dataset, "method_a": entry_a, "method_b": entry_b, "seed": seed,
                             "n_test": len(test_a), "auc_a": result["auc_a"], "auc_b": result["auc_b"],
                             "difference": result["difference"], "p_value": result["p_value"]})
    return pd.DataFrame(rows, columns=COLUMNS)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error rate), in the input order."""
    if len(p_values) == 0:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(p) for p in multipletests(list(p_values), method="holm")[1]]


def with_holm(tests: pd.DataFrame) -> pd.DataFrame:
    """`tests` with `p_holm`: every p-value adjusted for all the tests of the frame (one report, one family)."""
    return tests.assign(p_holm=holm_adjust(tests["p_value"].tolist()))


def reference_delong(table: ReportTable, runs: pd.DataFrame, reference: str,
                     names: Sequence[str] = ()) -> pd.DataFrame:
    """DeLong tests of the `reference` entry (a method with one configuration in the table, or an entry's label)
    against every other entry (or those `names` pick), per data set and shared seed, with Holm-adjusted p."""
    matches = [e for e in table.entries if e == reference] or \
        sorted(set(table.summary.loc[table.summary["method"] == reference, "entry"]))
    if len(matches) != 1:
        raise BenchError(f"--reference {reference!r}: " + (f"matches {len(matches)} entries ({'; '.join(matches)}); "
                         "name one" if matches else f"no such entry; entries: {', '.join(table.entries)}"))
    ref = matches[0]
    others = [e for e in (select_entries(table, [ref, *names]) if names else table.entries) if e != ref]
    frames = [paired_delong(table, runs, [ref, other]) for other in others]
    tests = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return with_holm(tests)


def reference_marks(table: ReportTable, tests: pd.DataFrame, alpha: float = ALPHA) -> pd.DataFrame:
    """True per (entry, (data set, "auc")) cell where the entry's AUC differs from the reference's in every seed both
    ran (Holm-adjusted p < alpha); False elsewhere (other metrics: no test)."""
    marks = pd.DataFrame(False, index=table.mean.index, columns=table.mean.columns)
    for (dataset, entry), rows in tests.groupby(["dataset", "method_b"]):
        if (dataset, "auc") in marks.columns and entry in marks.index:
            marks.loc[entry, (dataset, "auc")] = bool((rows["p_holm"] < alpha).all())
    return marks


def format_p(p: float) -> str:
    """`0.0123`, `<0.001`."""
    return "<0.001" if p < 1e-3 else f"{p:.3f}"


def display_frame(tests: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """The tests as printed (flat: no index): labels, rounded AUCs, the signed difference and p."""
    shown = pd.DataFrame({
        "Data set": tests["dataset"].map(dataset_label), "Method A": tests["method_a"],
        "Method B": tests["method_b"], "Seed": tests["seed"].astype(str), "n test": tests["n_test"].astype(str),
        "AUC A": tests["auc_a"].map(lambda v: f"{v:.{digits}f}"),
        "AUC B": tests["auc_b"].map(lambda v: f"{v:.{digits}f}"),
        "AUC A - B": tests["difference"].map(lambda v: f"{v:+.{digits}f}"),
        "DeLong p": tests["p_value"].map(format_p),
    })
    if "p_holm" in tests.columns:
        shown["Holm p"] = tests["p_holm"].map(format_p).to_numpy()
    return shown.reset_index(drop=True)
