"""What a run will cost, measured before it trains: the primitives each method's `Detector.cost_probe` uses (timed
steps on random images at the preset's size, peak memory, state size) and what a probe returns (`CostProbe`).
The dry-run planner (bench.runs.dry_run) turns probes into a table of planned runs."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

SAMPLE_IMAGES = 16  # the default probe's fit sample (normal, and as many unlabeled for semi-supervised methods)


WARM_UP_BELOW_S = 2.0  # probes time a step again after a first call shorter than this (see warm_timed)


@dataclasses.dataclass(frozen=True)
class DataShape:
    """What the estimate knows of a data set without decoding it: the protocol's image size and split counts."""

    name: str
    size: int
    channels: int
    counts: Mapping[str, int]  # images per split (train_normal, train_unlabeled, val, test); absent: not stated

    def count(self, split: str, default: int = 0) -> int:
        return int(self.counts.get(split, default))

    def describe(self) -> str:
        listed = ", ".join(f"{self.counts[s]} {s}" for s in ("train_normal", "train_unlabeled", "val", "test")
                           if s in self.counts) or "split counts not stated by the protocol"
        return f"{self.name}: protocol {self.size} px x {self.channels} channel(s); {listed}"


@dataclasses.dataclass(frozen=True)
class CostProbe:
    """What a method's probe measured, and what its preset asks for. `seconds_per_step` x `steps` + `extra_seconds`
    is the run's estimated wall time; the byte counts are the run folder's method-specific files."""

    parameters: int | None  # trainable parameters of the networks (None: not a network method)
    seconds_per_step: float | None  # measured on the device (None: not measured)
    steps: int | None  # the preset's training steps
    step: str  # what one step is, e.g. "iteration, batch 16"
    peak_memory_mb: float | None  # peak memory of the probe (GPU allocated on CUDA, process RSS on CPU)
    state_bytes: int  # detector.pt
    checkpoint_bytes: int = 0  # training checkpoints kept in the run folder
    log_bytes: int = 0  # loss logs, sample grids
    extra_seconds: float = 0.0  # scoring and other one-off work, from the probe's timings
    notes: tuple[str, ...] = ()
    gpu_memory_mb: float | None = None  # predicted peak GPU memory allocated were the run on CUDA (None: not predicted)
    # Of `peak_memory_mb`, what the fit frees before scoring (training embeddings, a memory bank, a data matrix):
    # the localisation step's arrays, after scoring, fit in it (bench.runs.dry_run.with_localisation). 0: unknown.
    fit_transient_mb: float = 0.0

    @property
    def wall_seconds(self) -> float | None:
        if self.seconds_per_step is None or self.steps is None:
            return None
        return self.seconds_per_step * self.steps + self.extra_seconds


def _rss_bytes() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    import resource

    return pages * resource.getpagesize()


@dataclasses.dataclass
class PeakMemory:
    """Filled in by `peak_memory`: the peak in MiB (None where it cannot be measured)."""

    mb: float | None = None


@contextlib.contextmanager
def peak_memory(device: torch.device) -> Iterator[PeakMemory]:
    """The block's peak memory: GPU memory allocated on CUDA, else the process's resident memory (sampled every
    10 ms by a thread; Linux)."""
    result = PeakMemory()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        yield result
        torch.cuda.synchronize(device)
        result.mb = torch.cuda.max_memory_allocated(device) / 2**20
        return
    peak = [_rss_bytes()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.01):
            now = _rss_bytes()
            if now is not None and peak[0] is not None:
                peak[0] = max(peak[0], now)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        last = _rss_bytes()
        if peak[0] is not None and last is not None:
            result.mb = max(peak[0], last) / 2**20


ADAM_BYTES_PER_PARAMETER = 16  # float32 weight, gradient and Adam's two moments


def activation_bytes(modules: Any, fn: Any) -> int:
    """Bytes of every tensor output of the leaf modules of `modules` while `fn()` runs: what autograd keeps for
    the backward pass of a training step, counted on any device (no CUDA needed), an upper bound (outputs computed
    without grad and outputs that in-place layers overwrite are counted too)."""
    total = [0]

    def count(_module: Any, _inputs: Any, output: Any) -> None:
        outputs = output if isinstance(output, list | tuple) else (output,)
        total[0] += sum(t.numel() * t.element_size() for t in outputs if isinstance(t, torch.Tensor))

    handles = [m.register_forward_hook(count) for module in modules for m in module.modules()
               if not list(m.children())]
    try:
        fn()
    finally:
        for handle in handles:
            handle.remove()
    return total[0]


def timed(fn: Any, device: torch.device) -> float:
    """Seconds `fn()` takes (the device synchronised before and after)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def warm_timed(fn: Any, device: torch.device, long_s: float = WARM_UP_BELOW_S) -> float:
    """Seconds of `fn()`, timed again after the first call when that one was short (first calls pay one-off costs:
    kernel selection, lazy state); a first call of `long_s` or more is taken as it is (those costs are a small
    share of it, and probing stays within seconds)."""
    seconds = timed(fn, device)
    return timed(fn, device) if seconds < long_s else seconds


def state_size(state: Mapping[str, Any]) -> int:
    """Bytes `torch.save` writes for `state` (what detector.pt will hold)."""
    buffer = io.BytesIO()
    torch.save(dict(state), buffer)
    return buffer.tell()


def random_images(n: int, channels: int, size: int, seed: int = 0) -> Any:
    """An ImageSet of `n` random uint8 images (labels -1): what probes fit on instead of decoded data."""
    from bench.core.images import ImageSet

    pixels = np.random.default_rng(seed).integers(0, 256, (n, channels, size, size), dtype=np.uint8)
    return ImageSet(pixels, np.full(n, -1, dtype=np.int64), np.array([f"probe-{i}" for i in range(n)]))

