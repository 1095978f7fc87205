"""Real run trees for the sweep and statistics tests: a PCA sweep run through bench.runs.sweep and the grid executor,
and three synthetic data sets of three difficulties with three methods for ranks, DeLong and Holm."""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Literal

import numpy as np

from bench.core.images import ImageSet
from bench.datasets.synthetic import SyntheticDataset, SyntheticOptions
from bench.methods.pca.detector import PCADetector
from bench.runs.executors.grid import run_grid
from bench.runs.sweep import plan_sweep
from tests.report.run_trees import temporarily_registered

SHUFFLED = "pca_shuffled"
EASY_DATASET = "synthetic_easy"
FAINT_DATASET = "synthetic_faint"
DATA = ["data.n_normal=40", "data.n_val=8", "data.n_test=40", "data.generate_size=64", "data.size=32"]
RANK_DATASETS = (EASY_DATASET, "synthetic", FAINT_DATASET)


class ShuffledPCA(PCADetector):
    """PCA whose test scores are permuted by seed: a detector at chance level, to test against."""

    name = SHUFFLED

    def _score(self, images: ImageSet) -> np.ndarray:
        return np.random.default_rng(self.seed).permutation(super()._score(images))


@dataclasses.dataclass(frozen=True)
class EasyOptions(SyntheticOptions):
    difficulty: Literal["easy", "medium", "hard"] = "easy"


@dataclasses.dataclass(frozen=True)
class FaintOptions(SyntheticOptions):
    difficulty: Literal["easy", "medium", "hard"] = "hard"


class EasySynthetic(SyntheticDataset):
    """The synthetic data set with strong opacities."""

    name = EASY_DATASET
    options_class = EasyOptions


class FaintSynthetic(SyntheticDataset):
    """The synthetic data set with faint opacities."""

    name = FAINT_DATASET
    options_class = FaintOptions


def registered() -> contextlib.AbstractContextManager[None]:
    """The shuffled method and the easy and faint data sets, for the duration only."""
    return temporarily_registered({SHUFFLED: ShuffledPCA}, {EASY_DATASET: EasySynthetic, FAINT_DATASET: FaintSynthetic})


def run_sweep(runs: Path, methods: list[str], dataset: str, seeds: list[int], sets: list[str]) -> list[Path]:
    """Plan a sweep and run it as `bench run` does (each data group prepared once); the run folders."""
    grid = plan_sweep(methods, dataset, seeds, "paper", [*DATA, *sets])
    outcomes, _ = run_grid(grid.groups(), None, runs, device="cpu")
    assert all(o.status == "complete" for o in outcomes), [o.error for o in outcomes]
    return [o.folder for o in outcomes]


def make_sweep_tree(runs: Path) -> list[Path]:
    """pca at n_components 2 and 8, and the shuffled PCA once, at two anomaly ratios of the unlabeled set; 2 seeds."""
    return run_sweep(runs, ["pca", SHUFFLED], "synthetic", [0, 1],
                     ["data.unlabeled_size=10", "pca.n_components=2,8", "data.anomaly_ratio=0.2,0.6"])


def make_rank_tree(runs: Path) -> list[Path]:
    """pca at n_components 2 and 8 and the shuffled PCA on the three data sets; 2 seeds."""
    return [folder for dataset in RANK_DATASETS
            for folder in run_sweep(runs, ["pca", SHUFFLED], dataset, [0, 1],
                                    ["data.unlabeled_size=0", "pca.n_components=2,8"])]
