"""`bench run --dry-run`: what each planned run will cost, measured before anything trains.

Each method probes itself (`Detector.cost_probe`): a few timed steps of its real networks at the preset's size and
batch on the current device, with random images (no data is decoded), or, by default, a fit on a small random
sample. A run's estimate is the probe's seconds per step times the preset's steps, plus the one-off work the probe
measured (scoring); its disk is what the run folder will hold (detector, checkpoints, logs, scores, sample maps).
One probe serves every seed of a configuration. Nothing is written to --runs.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence
from typing import Any

import torch

from bench.core.cost import CostProbe, DataShape, timed
from bench.core.errors import BenchError
from bench.data.adapter import DatasetAdapter
from bench.runs.plan import RunSpec

RUN_FILES_BYTES = 64 * 1024  # run.json, the lock file, a few small records


SCORE_ROW_BYTES = 48  # scores.parquet per image (id, label, split, score; compressed)


N_SAMPLE_MAPS = 16  # the runner keeps 8 normal and 8 abnormal test images with their maps


# A `bench run` process holds more than a probe's (the runner's imports, metrics, result files; the GANs'
# checkpoint selection and logs): measured 150-330 MB over the probe's peak (pca, padim, patchcore, healthygan at
# 300 and 600 synthetic images, python -m benchmarks.estimates; sagan's tiny run 325 MB, tests/test_estimate_bounds.py).
# Added to the host estimate on CPU.
RUN_PROCESS_MB = 400.0

# The localisation step (bench.runs.localisation_step) holds, per pooled test pixel: the float32 maps, the masks
# looked up and their copy for the scored images, the finite check, and pixel_metrics' sorted float32 copy; plus
# its blocks' temporaries. Measured 6.4 bytes per pixel for pixel_metrics alone (2,000 maps of 128 x 128).
LOCALISATION_BYTES_PER_PIXEL = 11
LOCALISATION_FIXED_BYTES = 64 * 2**20
LOCALISATION_TIMED_PIXELS = 1 << 20  # pixel_metrics is timed on this many random pixels and scaled

BUDGET_ENV = "BENCH_MEMORY_BUDGET_GB"
DEFAULT_BUDGET_GB = 16.0  # host memory a run may need (issue 27: a 32 GB workstation running one run beside others)


GPU_BUDGET_ENV = "BENCH_GPU_MEMORY_BUDGET_GB"
DEFAULT_GPU_BUDGET_GB = 24.0  # GPU memory a run may allocate (issue 27: a 24 GB GPU)


def memory_budget_gb(env: str = BUDGET_ENV, default: float = DEFAULT_BUDGET_GB) -> float:
    """The memory budget of one run in GB: $`env` (BENCH_MEMORY_BUDGET_GB: host), else `default`."""
    text = os.environ.get(env, "").strip()
    if not text:
        return default
    try:
        budget = float(text)
    except ValueError:
        budget = -1.0
    if not budget > 0 or not math.isfinite(budget):
        raise BenchError(f"{env} must be a positive number of GB, got {text!r}")
    return budget


def gpu_memory_mb(probe: CostProbe, device: torch.device) -> float | None:
    """A run's predicted peak GPU memory: the probe's prediction, else on CUDA the probe's measured peak."""
    if probe.gpu_memory_mb is not None:
        return probe.gpu_memory_mb
    return probe.peak_memory_mb if device.type == "cuda" else None


def check_gpu_budget(estimates: Sequence[RunEstimate], device: torch.device) -> None:
    """Refuse (BenchError: one line, exit 2) when the plan runs on CUDA and a run's predicted peak GPU memory
    exceeds $BENCH_GPU_MEMORY_BUDGET_GB (default 24)."""
    if device.type != "cuda":
        return
    budget = memory_budget_gb(GPU_BUDGET_ENV, DEFAULT_GPU_BUDGET_GB)
    need = {id(e): gpu_memory_mb(e.probe, device) for e in estimates}
    over = [e for e in estimates if (need[id(e)] or 0.0) / 1024 > budget]
    if over:
        worst = max(over, key=lambda e: need[id(e)] or 0.0)
        names = ", ".join(dict.fromkeys(f"{e.spec.method} on {e.spec.dataset}" for e in over))
        raise BenchError(f"{len(over)} planned run(s) need more GPU memory than the {budget:g} GB budget ({names}; "
                         f"{worst.spec.method} about {(need[id(worst)] or 0.0) / 1024:.1f} GB): lower the batch "
                         "(--set batch_size=N) or the image size (--set data.size=N), or raise "
                         f"{GPU_BUDGET_ENV}")


def check_memory_budget(estimates: Sequence[RunEstimate], device: torch.device) -> None:
    """Refuse (BenchError: one line, exit 2) when a run's predicted host memory exceeds the budget. On CUDA the
    probes measure GPU memory, not the host's, so there is nothing to check."""
    if device.type != "cpu":
        return
    budget = memory_budget_gb()
    over = [e for e in estimates if e.probe.peak_memory_mb is not None and e.probe.peak_memory_mb / 1024 > budget]
    if over:
        worst = max(over, key=lambda e: e.probe.peak_memory_mb or 0.0)
        names = ", ".join(dict.fromkeys(f"{e.spec.method} on {e.spec.dataset}" for e in over))
        raise BenchError(f"{len(over)} planned run(s) need more host memory than the {budget:g} GB budget ({names}; "
                         f"{worst.spec.method} about {(worst.probe.peak_memory_mb or 0.0) / 1024:.1f} GB): lower the "
                         "image size (--set data.size=N) or the method's training-set cap where it has one (pca: "
                         "--set max_train_images=N; padim and patchcore keep every training patch feature, which "
                         f"shrinks with the square of the size), or raise {BUDGET_ENV}")


def data_shape(adapter: DatasetAdapter) -> DataShape:
    """The adapter's protocol size and counts (no decoding, no download)."""
    counts = {split: sum(labels.values()) for split, labels in adapter.protocol().items()}
    return DataShape(adapter.name, int(adapter.size), int(adapter.channels), counts)


@dataclasses.dataclass(frozen=True)
class RunEstimate:
    """One planned run (one row of the dry-run table)."""

    spec: RunSpec
    probe: CostProbe
    disk_bytes: int


def disk_bytes(probe: CostProbe, data: DataShape) -> int:
    """The run folder: the method's files, run.json, scores of every scored image, and the sample maps (uint8
    images with float32 maps)."""
    scored = data.count("test") + data.count("val") + data.count("train_normal") // 10
    sample_maps = N_SAMPLE_MAPS * data.size * data.size * (data.channels + 4)
    return (probe.state_bytes + probe.checkpoint_bytes + probe.log_bytes + RUN_FILES_BYTES
            + scored * SCORE_ROW_BYTES + sample_maps)


@dataclasses.dataclass(frozen=True)
class LocalisationCost:
    """What scoring the maps against a data set's masks adds to a run (on the host, after the fit)."""

    pixels: int
    seconds: float

    @property
    def memory_mb(self) -> float:
        return (LOCALISATION_BYTES_PER_PIXEL * self.pixels + LOCALISATION_FIXED_BYTES) / 2**20


def localisation_cost(adapter: DatasetAdapter, shape: DataShape) -> LocalisationCost | None:
    """The localisation step's cost where the data set can have masks (its adapter reads them; which test images
    have one is known only once the data are prepared, so every test image counts), else None: the pooled
    pixels of the test split and the time of `pixel_metrics`, timed on random maps and scaled by the pixels."""
    import numpy as np

    from bench.data.adapter import DatasetAdapter as Base
    from bench.metrics.localisation import pixel_metrics

    if type(adapter).localisation_truth is Base.localisation_truth or not shape.count("test"):
        return None
    pixels = shape.count("test") * shape.size * shape.size
    side = int(math.sqrt(LOCALISATION_TIMED_PIXELS // 16))
    rng = np.random.default_rng(0)
    maps = rng.random((16, side, side), dtype=np.float32)
    masks = np.zeros(maps.shape, dtype=bool)
    masks[:8, : side // 4, : side // 4] = True
    seconds = timed(lambda: pixel_metrics(maps, masks), torch.device("cpu")) * pixels / maps.size
    return LocalisationCost(pixels, seconds)


def with_localisation(probe: CostProbe, cost: LocalisationCost | None, *, host_memory: bool) -> CostProbe:
    """`probe` with the localisation step's time added, and its memory where `host_memory` (the probe's peak is
    the host's). The step runs after the fit in the same process, so its arrays come on top of what the fit leaves
    resident: the fit's peak less what the probe says the fit frees (`fit_transient_mb`; 0, the whole peak, where
    a probe does not say). The run's peak is the larger of the fit's and that."""
    if cost is None:
        return probe
    peak = probe.peak_memory_mb
    if peak is not None and host_memory:
        peak = max(peak, peak - min(probe.fit_transient_mb, peak) + cost.memory_mb)
    return dataclasses.replace(
        probe, extra_seconds=probe.extra_seconds + cost.seconds, peak_memory_mb=peak,
        notes=(*probe.notes, f"localisation metrics over {cost.pixels / 1e6:.0f}M test pixels included"))


def estimate_runs(specs: Sequence[RunSpec], adapter: DatasetAdapter, device: torch.device,
                  probes: dict[tuple, CostProbe] | None = None) -> list[RunEstimate]:
    """One estimate per planned run; one probe per (method, preset, overrides, data shape), shared through
    `probes` (seeds share their probe)."""
    from bench.core import registry

    shape = data_shape(adapter)
    localisation = localisation_cost(adapter, shape)
    probes = {} if probes is None else probes
    estimates = []
    for spec in specs:
        key = (spec.method, spec.preset, tuple(sorted(spec.overrides.items())), shape.name, shape.size,
               shape.channels, tuple(sorted(shape.counts.items())))
        if key not in probes:
            cls = registry.get_method(spec.method)
            config = cls.preset(spec.preset, spec.overrides, dataset=spec.dataset)
            probe = cls.cost_probe(config, shape, device)
            if device.type == "cpu" and probe.peak_memory_mb is not None:
                probe = dataclasses.replace(probe, peak_memory_mb=probe.peak_memory_mb + RUN_PROCESS_MB)
            probes[key] = with_localisation(probe, localisation, host_memory=device.type == "cpu")
        estimates.append(RunEstimate(spec, probes[key], disk_bytes(probes[key], shape)))
    return estimates


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


def _constant(values: Sequence[str]) -> str | None:
    """The one value every row has, else None."""
    return values[0] if values and len(set(values)) == 1 else None


def table(estimates: Sequence[RunEstimate], device: str, width: int = 120) -> tuple[Any, list[str]]:
    """The dry-run table (rich), one row per run and a total, no wider than `width`, and the lines to print under
    it. What every run shares (data set, preset, seed) goes into the title, the probes' notes go under the table,
    the low-value columns (params, s/step, steps) are left out where they do not fit, and, where still too wide,
    preset and settings become a short configuration tag (c1, c2, ...) spelled out under the table. No number
    wraps."""
    from bench.core.terminal import Column, fit_table

    shared = {name: _constant([str(getattr(e.spec, name)) for e in estimates]) for name in ("dataset", "preset",
                                                                                           "seed")}
    with_settings = any(settings(e.spec) for e in estimates)
    configs = {(e.spec.preset, settings(e.spec)): "" for e in estimates}
    configs = {key: f"c{i}" for i, key in enumerate(configs, 1)}
    numbers = [Column("params", drop=3), Column("s/step", drop=2), Column("steps", drop=1),
               Column("est. wall", "wall"), Column("peak mem", "mem"),
               *([Column("gpu mem", "gpu")] if device.startswith("cuda") else []), Column("disk")]
    head = [Column("method", text=True), *([Column("dataset", text=True)] if shared["dataset"] is None else [])]
    seed = [Column("seed")] if shared["seed"] is None else []
    wide = [*head, *([Column("preset", text=True)] if shared["preset"] is None else []),
            *([Column("settings", text=True)] if with_settings else []), *seed, *numbers]
    narrow = [*head, *([Column("config", text=True)] if len(configs) > 1 else []), *seed, *numbers]

    def rows(columns: list[Column]) -> list[list[str] | None]:
        out: list[list[str] | None] = []
        for e in estimates:
            p = e.probe
            peak = None if p.peak_memory_mb is None else p.peak_memory_mb * 2**20
            cells = {"method": e.spec.method, "dataset": e.spec.dataset, "preset": e.spec.preset,
                     "settings": settings(e.spec), "config": configs[(e.spec.preset, settings(e.spec))],
                     "seed": str(e.spec.seed), "params": human_count(p.parameters),
                     "s/step": "?" if p.seconds_per_step is None else f"{p.seconds_per_step:.3g}",
                     "steps": "?" if p.steps is None else f"{p.steps:,}",
                     "est. wall": human_seconds(p.wall_seconds), "peak mem": human_bytes(peak),
                     "gpu mem": human_bytes(None if p.gpu_memory_mb is None else p.gpu_memory_mb * 2**20),
                     "disk": human_bytes(e.disk_bytes)}
            out.append([cells[c.header] for c in columns])
        walls = [e.probe.wall_seconds for e in estimates]
        total_wall = None if any(w is None for w in walls) else sum(walls)  # type: ignore[arg-type]
        total = {"method": "total", "est. wall": human_seconds(total_wall),
                 "disk": human_bytes(sum(e.disk_bytes for e in estimates))}
        return [*out, None, [total.get(c.header, "") for c in columns]]

    shared_text = ", ".join(f"{name} {value}" for name, value in shared.items() if value is not None)
    title = f"{len(estimates)} run(s) planned on {device}{': ' + shared_text if shared_text else ''} (estimates; " \
            "nothing is written)"
    fitted = fit_table(wide, rows(wide), width, title)
    lines = []
    if not fitted.fits and len(configs) > 1:
        fitted = fit_table(narrow, rows(narrow), width, title)
        lines += [f"{tag}: preset {preset}{', ' + text if text else ''}" for (preset, text), tag in configs.items()]
    notes: dict[str, str] = {}
    for e in estimates:
        label = e.spec.method if shared["preset"] else f"{e.spec.method} ({e.spec.preset})"
        notes.setdefault(label, "; ".join((e.probe.step, *e.probe.notes)))
    lines += [f"{label}: {note}" for label, note in notes.items()]
    if fitted.dropped:
        lines.append(f"left out to fit {width} columns: {', '.join(fitted.dropped)} (set COLUMNS wider to see them)")
    return fitted.table, lines


def dry_run(groups: Sequence[tuple[DatasetAdapter, Sequence[RunSpec]]], device: str, console: Any) -> list[RunEstimate]:
    """Probe every planned run (grouped by data options, each group with its adapter) and print one table;
    returns the estimates. Nothing is decoded, downloaded or written."""
    from bench.core.device import choose_device

    choice = choose_device(device)
    console.print(f"device: {choice.device} ({choice.reason})", highlight=False)
    probes: dict[tuple, CostProbe] = {}
    estimates: list[RunEstimate] = []
    for adapter, specs in groups:
        console.print(data_shape(adapter).describe(), highlight=False)
        estimates += estimate_runs(specs, adapter, choice.device, probes)
    shown, lines = table(estimates, str(choice.device), console.width)
    console.print(shown)
    for line in lines:  # the probes' notes: prose, wrapped at word boundaries
        console.print(line, highlight=False, markup=False)
    console.print(LEGEND, highlight=False)
    check_memory_budget(estimates, choice.device)
    check_gpu_budget(estimates, choice.device)
    return estimates


LEGEND = ("s/step: seconds per training step measured here (GANs: one iteration, a D step with a G step every "
          "n_critic; anomalib: one batch; PCA: the whole fit) on random images at the preset's size. est. wall "
          "(short: wall) = s/step x steps + scoring. peak mem (short: mem): GPU memory allocated (CUDA) or the "
          "process's resident memory (CPU): the probe's peak plus what grows with the data set where the method "
          "states it. gpu mem (CUDA plans): predicted peak GPU memory allocated (GANs: weights, gradients, Adam, "
          "activations at the batch, training sets), checked against BENCH_GPU_MEMORY_BUDGET_GB. disk: the run "
          "folder (detector, checkpoints, logs, "
          "scores, sample maps). On CPU a GAN step at batch 2 stands for the batch scaled linearly: an upper bound,"
          " as a step costs less per image at larger batches. On CUDA the probe runs the full batch.")
