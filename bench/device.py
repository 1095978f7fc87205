"""Device choice and seeding: every run picks its device itself and seeds every RNG it touches."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from bench.errors import BenchError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """`auto` gives cuda when available, else cpu; `cuda` without a GPU is a clear error."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"--device {name} was asked for but no CUDA GPU is visible; use --device auto or cpu")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise BenchError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so the same seed on CPU gives identical scores."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
