"""What a run record says about where and how it ran: versions, git commit, device, memory."""

from __future__ import annotations

import platform
import resource
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from bench.core.device import choose_device

PACKAGES = ("medad-bench", "torch", "torchvision", "numpy", "scikit-learn", "pandas", "anomalib", "pytorch-fid",
            "pydicom")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that affect results (None where not installed)."""
    found: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = None
    return found


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """The commit of the source tree (and whether it has uncommitted changes), where it is a git checkout."""
    cwd = path or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return {"commit": None, "dirty": None}
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                                capture_output=True, text=True, timeout=5)
        return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def device_info(device: torch.device, requested: str | None = None) -> dict[str, Any]:
    """The device a run used, with the GPU's name where there is one; with `requested` (the run's `--device`),
    also what was asked for and why this device was chosen."""
    info: dict[str, Any] = {"device": str(device), "host": platform.node(), "cpu_threads": torch.get_num_threads()}
    if requested is not None:
        choice = choose_device(requested)
        info.update(requested=choice.requested, reason=choice.reason)
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def peak_memory_mb(device: torch.device) -> dict[str, float]:
    """Peak resident memory of this process (and peak GPU memory allocated, on CUDA), in MiB."""
    peak = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}
    if device.type == "cuda":
        peak["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return peak
