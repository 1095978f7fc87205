"""Small synthetic data sets for tests, generated through the real adapter -> manifest -> cache path."""

from __future__ import annotations

from pathlib import Path

from bench.data.adapter import PreparedData
from bench.datasets.synthetic import SyntheticDataset

# Enough to check the contract quickly.
TINY = {"n_normal": 48, "unlabeled_size": 32, "n_val": 8, "n_test": 12, "generate_size": 64}
# Enough for a learning check: a method must separate opacities from normal anatomy.
LEARNING = {"n_normal": 400, "unlabeled_size": 400, "n_val": 40, "n_test": 150, "generate_size": 64}


def prepare_synthetic(root: Path, **options: object) -> PreparedData:
    """Generate (once) and prepare a synthetic data set under `root` with the given options."""
    adapter = SyntheticDataset(root, SyntheticDataset.make_options({k: str(v) for k, v in options.items()}))
    return adapter.prepare()
