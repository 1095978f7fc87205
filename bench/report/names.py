"""Display names of metrics and data sets, and which of our registry names a paper's method name maps to."""

from __future__ import annotations

METRICS = ("auc", "ap", "f1", "precision", "recall", "specificity")
THRESHOLDED = ("f1", "precision", "recall", "specificity")

METRIC_LABELS = {"auc": "AUC", "ap": "AP", "f1": "F1", "precision": "Precision", "recall": "Recall",
                 "specificity": "Specificity"}

DATASET_ORDER = ("covidx", "chestxray14", "rsna", "vindr", "lag", "synthetic")
DATASET_LABELS = {"covidx": "COVIDx", "chestxray14": "ChestX-ray14", "rsna": "RSNA", "vindr": "VinDr-CXR",
                  "lag": "LAG", "synthetic": "Synthetic"}

# Paper name -> our registry name; every other paper method keeps the paper's name (and has no reproduced row).
PAPER_METHODS = {"HealthyGAN": "healthygan", "SAGAN": "sagan", "PaDiM": "padim", "PatchCore": "patchcore",
                 "GANomaly": "ganomaly"}


def metric_label(metric: str) -> str:
    """`auc` -> `AUC`; an unknown metric keeps its name."""
    return METRIC_LABELS.get(metric, metric)


def dataset_label(dataset: str) -> str:
    """`vindr` -> `VinDr-CXR`; an unknown data set keeps its name."""
    return DATASET_LABELS.get(dataset, dataset)


def dataset_sort_key(dataset: str) -> tuple[int, str]:
    """The papers' order first (COVIDx, ChestX-ray14, RSNA, VinDr-CXR, LAG, synthetic), then by name."""
    return (DATASET_ORDER.index(dataset) if dataset in DATASET_ORDER else len(DATASET_ORDER), dataset)


def parse_metrics(text: str | None) -> tuple[str, ...]:
    """`auc,ap` -> ("auc", "ap"); accepts the display names too (AUC, Prec, Spec ...). None -> all six."""
    from bench.errors import BenchError

    if not text:
        return METRICS
    aliases = {"prec": "precision", "rec": "recall", "spec": "specificity", **{m: m for m in METRICS}}
    chosen = []
    for part in text.split(","):
        name = aliases.get(part.strip().lower())
        if name is None:
            raise BenchError(f"unknown metric {part.strip()!r}; choose from {', '.join(METRICS)}")
        chosen.append(name)
    return tuple(dict.fromkeys(chosen))


def split_names(text: str | None) -> tuple[str, ...]:
    """`"rsna, vindr"` -> ("rsna", "vindr"); None or empty -> ()."""
    return tuple(dict.fromkeys(p.strip() for p in (text or "").split(",") if p.strip()))
