"""Real run records for report tests, made by bench.runs.execute with the PCA method, PCA variants (`--set`), a PCA
subclass whose name needs LaTeX escaping, and a second (harder) synthetic data set."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from bench.core import registry
from bench.datasets.synthetic import SyntheticDataset, SyntheticOptions
from bench.methods.pca.detector import PCADetector
from bench.runs.execute import execute
from bench.runs.plan import plan

ODD_METHOD = "pca_v2 100%"  # an underscore, a space and a percent sign: all need escaping in LaTeX
HARD_DATASET = "synthetic_hard"
DATA = {"data.n_normal": "40", "data.unlabeled_size": "0", "data.n_val": "16", "data.n_test": "24",
        "data.generate_size": "64", "data.size": "32"}


class OddNamePCA(PCADetector):
    """PCA under a name with LaTeX special characters."""

    name = ODD_METHOD


@dataclasses.dataclass(frozen=True)
class HardOptions(SyntheticOptions):
    difficulty: Literal["easy", "medium", "hard"] = "hard"


class HardSynthetic(SyntheticDataset):
    """The synthetic data set with faint opacities, as a second data set."""

    name = HARD_DATASET
    options_class = HardOptions


@contextlib.contextmanager
def temporarily_registered(methods: dict[str, type], datasets: dict[str, type]) -> Iterator[None]:
    """Register test methods (outside `--methods all`) and data sets for the duration only: other tests never
    see them."""
    for name, cls in methods.items():
        registry.methods.register(name, cls, in_all=False)
    for name, cls in datasets.items():
        registry.datasets.register(name, cls)
    try:
        yield
    finally:
        for name in methods:
            registry.methods.unregister(name)
        for name in datasets:
            registry.datasets.unregister(name)


def registered() -> contextlib.AbstractContextManager[None]:
    """The odd-named PCA and the hard synthetic data set, for the duration."""
    return temporarily_registered({ODD_METHOD: OddNamePCA}, {HARD_DATASET: HardSynthetic})


def run(runs: Path, method: str, dataset: str, seeds: list[int], *, preset: str = "paper",
        sets: dict[str, str] | None = None, threshold: str | None = None) -> list[Path]:
    """Train and score through the runner exactly as `bench run` does; the run folders."""
    specs = plan([method], dataset, seeds, preset, {**DATA, **(sets or {})}, threshold)
    cls = registry.get_dataset(dataset)
    prepared = cls(None, cls.make_options(specs[0].data_overrides)).prepare()
    outcomes = [execute(spec, prepared, runs, device="cpu") for spec in specs]
    assert all(o.status == "complete" for o in outcomes), [o.error for o in outcomes]
    return [o.folder for o in outcomes]


def make_tree(runs: Path) -> dict[str, list[Path]]:
    """The shared tree: which folders hold what, by a short name."""
    return {
        "pca": run(runs, "pca", "synthetic", [0, 1]),
        "pca4": run(runs, "pca", "synthetic", [0, 1, 2],
                    sets={"n_components": "4", "max_train_images": "30"}),
        "oracle": run(runs, "pca", "synthetic", [0], sets={"n_components": "2"}, threshold="test-oracle-f1"),
        "odd": run(runs, ODD_METHOD, "synthetic", [0, 1], sets={"n_components": "8"}),
        "hard_pca": run(runs, "pca", HARD_DATASET, [0, 1]),
        "hard_odd": run(runs, ODD_METHOD, HARD_DATASET, [0], sets={"n_components": "8"}),
    }


def copy_run(folder: Path, target_root: Path, edit: Callable[[dict], None] | None = None) -> Path:
    """Copy one run folder (as from another machine) into `target_root`, same <dataset>/<method>/<run-id>,
    optionally editing its run.json."""
    target = target_root / Path(*folder.parts[-3:])
    shutil.copytree(folder, target)
    if edit is not None:
        record = json.loads((target / "run.json").read_text())
        edit(record)
        (target / "run.json").write_text(json.dumps(record, indent=2))
    return target
