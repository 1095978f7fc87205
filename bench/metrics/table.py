"""The metrics every run records, in table order: key, display label, whether higher is better, whether it needs a
decision threshold, and where the record keeps it. The one list the runner, the CLI, reports and the leaderboard
read. Image metrics (bench.metrics.image computes them) sit in run.json's `metrics` and are what tables show by default;
localisation metrics (bench.metrics.localisation, from the anomaly maps) sit in `localisation.metrics` and are shown
when asked for (`--metrics pixel_auroc,aupro,hit_rate`) or, in the leaderboard, where any run has them.

Plain Python (no numpy): the CLI's help text reads it at start-up.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from bench.core.errors import BenchError


@dataclasses.dataclass(frozen=True)
class Metric:
    """One metric of a run record."""

    key: str  # the name in run.json, tables and `--metrics`
    label: str  # as tables print it
    higher_is_better: bool = True
    thresholded: bool = False  # computed at the run's decision threshold (else from the scores' ranking)
    aliases: tuple[str, ...] = ()  # further spellings `--metrics` accepts (lower case)
    localisation: bool = False  # scored from the anomaly maps against ground-truth masks (record: localisation)


TABLE: tuple[Metric, ...] = (
    Metric("auc", "AUC"),
    Metric("ap", "AP"),
    Metric("f1", "F1", thresholded=True),
    Metric("precision", "Precision", thresholded=True, aliases=("prec",)),
    Metric("recall", "Recall", thresholded=True, aliases=("rec",)),
    Metric("specificity", "Specificity", thresholded=True, aliases=("spec",)),
    Metric("pixel_auroc", "Pixel AUROC", aliases=("pauroc", "pixel_auc", "pixel-auroc"), localisation=True),
    Metric("pixel_ap", "Pixel AP", aliases=("pap", "pixel-ap"), localisation=True),
    Metric("aupro", "AUPRO@0.3", aliases=("pro", "au-pro"), localisation=True),
    Metric("hit_rate", "Hit rate", aliases=("pointing", "pointing_game", "hit"), localisation=True),
)
ALL_METRICS: tuple[str, ...] = tuple(m.key for m in TABLE)
METRICS: tuple[str, ...] = tuple(m.key for m in TABLE if not m.localisation)  # image metrics: the default
LOCALISATION_METRICS: tuple[str, ...] = tuple(m.key for m in TABLE if m.localisation)
THRESHOLDED: tuple[str, ...] = tuple(m.key for m in TABLE if m.thresholded)
HIGHER_IS_BETTER: dict[str, bool] = {m.key: m.higher_is_better for m in TABLE}
_BY_KEY = {m.key: m for m in TABLE}


def metric_label(key: str) -> str:
    """`auc` -> `AUC`; an unknown metric keeps its name."""
    return _BY_KEY[key].label if key in _BY_KEY else key


def parse_metrics(text: str | None) -> tuple[str, ...]:
    """`auc,ap` -> ("auc", "ap"); accepts the labels and aliases too (AUC, Prec, Spec ...). None or "" -> the
    image metrics (METRICS)."""
    if not text:
        return METRICS
    names = {spelling: m.key for m in TABLE for spelling in (m.key, m.label.lower(), *m.aliases)}
    chosen = []
    for part in text.split(","):
        key = names.get(part.strip().lower())
        if key is None:
            raise BenchError(f"unknown metric {part.strip()!r}; choose from {', '.join(ALL_METRICS)}")
        chosen.append(key)
    return tuple(dict.fromkeys(chosen))


def record_metrics(metrics: Mapping[str, object] | None, localisation: Mapping[str, object] | None
                   ) -> dict[str, object]:
    """Every metric of a run record by key: run.json's `metrics` and `localisation.metrics` (absent: missing)."""
    found = {key: (metrics or {}).get(key) for key in METRICS}
    pixel = (localisation or {}).get("metrics") or {}
    found.update({key: pixel.get(key) for key in LOCALISATION_METRICS})  # type: ignore[union-attr]
    return found
