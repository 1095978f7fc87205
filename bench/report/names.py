"""How reports name and order data sets. Display names come from the registry (each adapter's `display_name`);
metric names and labels from bench.metrics.table."""

from __future__ import annotations

from bench.core import registry

# The column order of the papers' tables (HealthyGAN: COVIDx, ChestX-ray14; SAGAN: RSNA, VinDr-CXR, LAG), then the
# local data sets; a presentation choice of the reports, not a fact about the data sets.
DATASET_ORDER = ("covidx", "chestxray14", "rsna", "vindr", "lag", "synthetic")


def dataset_label(dataset: str) -> str:
    """`vindr` -> `VinDr-CXR` (the adapter's display name); a data set without one keeps its name."""
    return registry.datasets.display_name(dataset)


def dataset_sort_key(dataset: str) -> tuple[int, str]:
    """The papers' order first (COVIDx, ChestX-ray14, RSNA, VinDr-CXR, LAG, synthetic), then by name."""
    return (DATASET_ORDER.index(dataset) if dataset in DATASET_ORDER else len(DATASET_ORDER), dataset)


def split_names(text: str | None) -> tuple[str, ...]:
    """`"rsna, vindr"` -> ("rsna", "vindr"); None or empty -> ()."""
    return tuple(dict.fromkeys(p.strip() for p in (text or "").split(",") if p.strip()))
