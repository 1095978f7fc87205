"""The metrics every run records, in table order: key, display label, whether higher is better, whether it needs a
decision threshold. The one list the runner, the CLI, reports and the leaderboard read; bench.metrics computes them.

Plain Python (no numpy): the CLI's help text reads it at start-up.
"""

from __future__ import annotations

import dataclasses

from bench.errors import BenchError


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric of a run record."""

    key: str  # the name in run.json, tables and `--metrics`
    label: str  # as tables print it
    higher_is_better: bool = True
    thresholded: bool = False  # computed at the run's decision threshold (else from the scores' ranking)
    aliases: tuple[str, ...] = ()  # further spellings `--metrics` accepts (lower case)


TABLE: tuple[Metric, ...] = (
    Metric("auc", "AUC"),
    Metric("ap", "AP"),
    Metric("f1", "F1", thresholded=True),
    Metric("precision", "Precision", thresholded=True, aliases=("prec",)),
    Metric("recall", "Recall", thresholded=True, aliases=("rec",)),
    Metric("specificity", "Specificity", thresholded=True, aliases=("spec",)),
)
METRICS: tuple[str, ...] = tuple(m.key for m in TABLE)
THRESHOLDED: tuple[str, ...] = tuple(m.key for m in TABLE if m.thresholded)
HIGHER_IS_BETTER: dict[str, bool] = {m.key: m.higher_is_better for m in TABLE}
_BY_KEY = {m.key: m for m in TABLE}


def metric_label(key: str) -> str:
    """`auc` -> `AUC`; an unknown metric keeps its name."""
    return _BY_KEY[key].label if key in _BY_KEY else key


def parse_metrics(text: str | None) -> tuple[str, ...]:
    """`auc,ap` -> ("auc", "ap"); accepts the labels and aliases too (AUC, Prec, Spec ...). None or "" -> all."""
    if not text:
        return METRICS
    names = {spelling: m.key for m in TABLE for spelling in (m.key, m.label.lower(), *m.aliases)}
    chosen = []
    for part in text.split(","):
        key = names.get(part.strip().lower())
        if key is None:
            raise BenchError(f"unknown metric {part.strip()!r}; choose from {', '.join(METRICS)}")
        chosen.append(key)
    return tuple(dict.fromkeys(chosen))
