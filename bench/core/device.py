"""Device choice and seeding: every run picks its device itself and seeds every RNG it touches."""

from __future__ import annotations

import dataclasses
import os
import random

import numpy as np
import torch

from bench.core.errors import BenchError


@dataclasses.dataclass(frozen=True)
class DeviceChoice:
    """The device a run uses, what was asked for (`--device`) and why this one, for run.json."""

    device: torch.device
    requested: str
    reason: str


def choose_device(device: str | torch.device = "auto") -> DeviceChoice:
    """`auto` gives cuda when available, else cpu (saying why); `cuda` without a GPU is a clear error."""
    name = str(device)
    if name == "auto":
        if torch.cuda.is_available():
            return DeviceChoice(torch.device("cuda"), name, f"auto: CUDA is available ({torch.cuda.device_count()} "
                                                            f"GPU(s)), using cuda:{torch.cuda.current_device()}")
        return DeviceChoice(torch.device("cpu"), name, f"auto: {no_cuda_reason()}, using cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise BenchError(f"--device {name} was asked for but no CUDA GPU is visible ({no_cuda_reason()}); "
                         "use --device auto or cpu")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise BenchError(f"unknown device {name!r}; use auto, cpu or cuda")
    return DeviceChoice(torch.device(name), name, f"asked for with --device {name}")


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """The torch device of `choose_device(device)`."""
    return choose_device(device).device


def no_cuda_reason() -> str:
    """Why torch sees no CUDA GPU here: a CPU-only build of torch, or a CUDA build that finds no device."""
    if torch.version.cuda is None:
        return f"torch {torch.__version__} is a CPU-only build"
    return f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no CUDA device"


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA) so the same seed on CPU gives identical scores."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
