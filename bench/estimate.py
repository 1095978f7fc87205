"""`bench run --dry-run`: what each planned run will cost, measured before anything trains.

Each method probes itself (`Detector.cost_probe`): a few timed steps of its real networks at the preset's size and
batch on the current device, with random images (no data is decoded), or, by default, a fit on a small random
sample. A run's estimate is the probe's seconds per step times the preset's steps, plus the one-off work the probe
measured (scoring); its disk is what the run folder will hold (detector, checkpoints, logs, scores, sample maps).
One probe serves every seed of a configuration. Nothing is written to --runs.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import math
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from bench.data.adapter import DatasetAdapter
    from bench.detector import Detector
    from bench.runner import RunSpec

SAMPLE_IMAGES = 16  # the default probe's fit sample (normal, and as many unlabeled for semi-supervised methods)
RUN_FILES_BYTES = 64 * 1024  # run.json, the lock file, a few small records
SCORE_ROW_BYTES = 48  # scores.parquet per image (id, label, split, score; compressed)
N_SAMPLE_MAPS = 16  # the runner keeps 8 normal and 8 abnormal test images with their maps
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


def data_shape(adapter: DatasetAdapter) -> DataShape:
    """The adapter's protocol size and counts (no decoding, no download)."""
    counts = {split: sum(labels.values()) for split, labels in adapter.protocol().items()}
    return DataShape(adapter.name, int(adapter.size), int(adapter.channels), counts)


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

    @property
    def wall_seconds(self) -> float | None:
        if self.seconds_per_step is None or self.steps is None:
            return None
        return self.seconds_per_step * self.steps + self.extra_seconds


@dataclasses.dataclass(frozen=True)
class RunEstimate:
    """One planned run (one row of the dry-run table)."""

    spec: RunSpec
    probe: CostProbe
    disk_bytes: int


# --- measuring ----------------------------------------------------------------------------------------------------

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
    from bench.detector import ImageSet

    pixels = np.random.default_rng(seed).integers(0, 256, (n, channels, size, size), dtype=np.uint8)
    return ImageSet(pixels, np.full(n, -1, dtype=np.int64), np.array([f"probe-{i}" for i in range(n)]))


def probe_fit_on_sample(cls: type[Detector], config: Any, data: DataShape, device: torch.device) -> CostProbe:
    """The default probe: fit the method on a small random sample at the data's size and scale the time linearly
    to the training set (a method with a step-based cost should override `Detector.cost_probe`)."""
    from bench.detector import TrainData

    n_train = data.count("train_normal", SAMPLE_IMAGES)
    normal = random_images(min(SAMPLE_IMAGES, n_train), data.channels, data.size, seed=1)
    unlabeled = random_images(SAMPLE_IMAGES, data.channels, data.size, seed=2) if cls.uses_unlabeled else None
    detector = cls(config, seed=0, device=device)
    with peak_memory(device) as peak:
        seconds = timed(lambda: detector.fit(TrainData(normal, unlabeled)), device)
        score_seconds = timed(lambda: detector.score(normal), device) / len(normal)
    n_scored = data.count("test") + data.count("val")
    return CostProbe(parameters=None, seconds_per_step=seconds / len(normal), steps=n_train,
                     step="training image", peak_memory_mb=peak.mb,
                     state_bytes=state_size(detector.state_dict()), extra_seconds=score_seconds * n_scored,
                     notes=(f"generic: fit on {len(normal)} images, scaled linearly",))


# --- the plan -----------------------------------------------------------------------------------------------------

def disk_bytes(probe: CostProbe, data: DataShape) -> int:
    """The run folder: the method's files, run.json, scores of every scored image, and the sample maps (uint8
    images with float32 maps)."""
    scored = data.count("test") + data.count("val") + data.count("train_normal") // 10
    sample_maps = N_SAMPLE_MAPS * data.size * data.size * (data.channels + 4)
    return (probe.state_bytes + probe.checkpoint_bytes + probe.log_bytes + RUN_FILES_BYTES
            + scored * SCORE_ROW_BYTES + sample_maps)


def estimate_runs(specs: Sequence[RunSpec], adapter: DatasetAdapter, device: torch.device,
                  probes: dict[tuple, CostProbe] | None = None) -> list[RunEstimate]:
    """One estimate per planned run; one probe per (method, preset, overrides, data shape), shared through
    `probes` (seeds share their probe)."""
    from bench import registry

    shape = data_shape(adapter)
    probes = {} if probes is None else probes
    estimates = []
    for spec in specs:
        key = (spec.method, spec.preset, tuple(sorted(spec.overrides.items())), shape.name, shape.size,
               shape.channels, tuple(sorted(shape.counts.items())))
        if key not in probes:
            cls = registry.get_method(spec.method)
            config = cls.preset(spec.preset, spec.overrides, dataset=spec.dataset)
            probes[key] = cls.cost_probe(config, shape, device)
        estimates.append(RunEstimate(spec, probes[key], disk_bytes(probes[key], shape)))
    return estimates


# --- printing -----------------------------------------------------------------------------------------------------

def human_seconds(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "?"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"


def human_bytes(count: float | None) -> str:
    if count is None:
        return "?"
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count:.0f} B"


def human_count(count: int | None) -> str:
    if count is None:
        return "-"
    return f"{count / 1e6:.2f}M" if count >= 1e5 else f"{count:,}"


def settings(spec: RunSpec) -> str:
    """A run's overrides as `key=value`, data-set keys prefixed `data.`."""
    pairs = [*spec.overrides.items(), *((f"data.{k}", v) for k, v in spec.data_overrides.items())]
    return ", ".join(f"{k}={v}" for k, v in pairs)


def table(estimates: Sequence[RunEstimate], device: str) -> Any:
    """The dry-run table (rich), one row per run, and a total."""
    from rich.table import Table

    with_settings = any(settings(e.spec) for e in estimates)
    out = Table(title=f"planned runs on {device} (estimates; nothing is written)")
    columns = ["method", "dataset", *(["settings"] if with_settings else []), "seed", "preset", "params", "s/step",
               "steps", "est. wall", "peak mem", "disk", "notes"]
    for column in columns:
        text = column in ("method", "dataset", "settings", "preset", "notes")
        out.add_column(column, justify="left" if text else "right", overflow="fold")
    for e in estimates:
        p = e.probe
        sps = "?" if p.seconds_per_step is None else f"{p.seconds_per_step:.3g}"
        steps = "?" if p.steps is None else f"{p.steps:,}"
        peak = None if p.peak_memory_mb is None else p.peak_memory_mb * 2**20
        out.add_row(e.spec.method, e.spec.dataset, *([settings(e.spec)] if with_settings else []), str(e.spec.seed),
                    e.spec.preset, human_count(p.parameters), sps, steps, human_seconds(p.wall_seconds),
                    human_bytes(peak), human_bytes(e.disk_bytes), "; ".join((p.step, *p.notes)))
    walls = [e.probe.wall_seconds for e in estimates]
    total_wall = None if any(w is None for w in walls) else sum(walls)  # type: ignore[arg-type]
    out.add_section()
    out.add_row("total", f"{len(estimates)} run(s)", *([""] if with_settings else []), "", "", "", "", "",
                human_seconds(total_wall), "", human_bytes(sum(e.disk_bytes for e in estimates)), "")
    return out


def dry_run(groups: Sequence[tuple[DatasetAdapter, Sequence[RunSpec]]], device: str, console: Any) -> list[RunEstimate]:
    """Probe every planned run (grouped by data options, each group with its adapter) and print one table;
    returns the estimates. Nothing is decoded, downloaded or written."""
    from bench.device import choose_device

    choice = choose_device(device)
    console.print(f"device: {choice.device} ({choice.reason})", highlight=False)
    probes: dict[tuple, CostProbe] = {}
    estimates: list[RunEstimate] = []
    for adapter, specs in groups:
        console.print(data_shape(adapter).describe(), highlight=False)
        estimates += estimate_runs(specs, adapter, choice.device, probes)
    console.print(table(estimates, str(choice.device)))
    console.print(LEGEND, highlight=False)
    return estimates


LEGEND = ("s/step: seconds per training step measured here (GANs: one iteration, a D step with a G step every "
          "n_critic; anomalib: one batch; PCA: the whole fit) on random images at the preset's size. est. wall = "
          "s/step x steps + scoring. peak mem: GPU memory allocated (CUDA) or the process's resident memory (CPU) "
          "during the probe. disk: the run folder (detector, checkpoints, logs, scores, sample maps). On CPU a GAN "
          "step at batch 1 stands for the batch scaled linearly: an upper bound, as a step costs less per image at "
          "larger batches. On CUDA the probe runs the full batch.")
