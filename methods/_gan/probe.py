"""The GANs' cost probe for `bench run --dry-run`: timed iterations of the shared loop's real step (D steps, a G
step every n_critic) of the preset's networks at its size, on random images, on the run's device."""

from __future__ import annotations

import importlib.util
import math
import tempfile
from pathlib import Path
from typing import Any

import torch

from bench.core.cost import (
    ADAM_BYTES_PER_PARAMETER,
    CostProbe,
    DataShape,
    activation_bytes,
    peak_memory,
    random_images,
    timed,
    warm_timed,
)
from bench.methods._gan.accel import Accel, eval_mode
from bench.methods._gan.data import DeviceSampler, to_unit_range
from bench.methods._gan.loop import GANLoop, LoopSettings
from bench.methods._gan.networks import count_parameters
from bench.methods._gan.samples import save_sample_grid
from bench.methods._gan.trainer import GANRecipe

CPU_PROBE_BUDGET_S = 2.0  # on CPU, time two images per batch, then the whole batch if that fits in this budget
CPU_PROBE_BATCH = 2  # BatchNorm in training needs two values per channel (ALOCC's D ends at 1 x 1)
LOG_ROW_BYTES = 160  # losses.csv, per logged row
SAMPLE_GRID_BYTES = 400 * 1024  # samples.png
ADAM_COPIES = 3  # a checkpoint holds the weights and Adam's two moments
# samples.png at each checkpoint: rows and columns of the widest grid a GAN here writes (HealthyGAN's, SAGAN's)
GRID_ROWS, GRID_COLUMNS = 8, 5


def tensor_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def probe_training(recipe: GANRecipe, config: Any, data: DataShape, device: torch.device) -> CostProbe:
    """One timed unit of n_critic iterations (D steps and a G step; after a warm-up unit where units are short), at
    the preset's batch on CUDA; on CPU at two images per batch first (a paper-size step takes minutes there), then
    at the whole batch when that fits in `CPU_PROBE_BUDGET_S`, else scaled linearly by the batch. G's scoring pass
    timed once."""
    size = config.image_size or data.size
    recipe.model_size(config, random_images(1, config.channels, size))  # the method's own size checks
    torch.manual_seed(0)
    generator, critic = recipe.build_networks(config, size)
    accel = Accel.for_device(device, amp=config.amp, channels_last=config.channels_last, compile=False,
                             mode=config.accel)
    for module in (generator, critic):
        accel.prepare(module).train()
    batch = int(config.batch_size)
    with peak_memory(device) as peak:
        probe_batch = batch if device.type == "cuda" else min(batch, CPU_PROBE_BATCH)
        setup, unit, per_image = time_unit(recipe, generator, critic, config, accel, size, probe_batch)
        if probe_batch < batch and unit * batch / probe_batch < CPU_PROBE_BUDGET_S:
            probe_batch = batch
            unit, per_image = time_unit(recipe, generator, critic, config, accel, size, probe_batch)[1:]
        per_checkpoint = checkpoint_seconds(recipe, generator, critic, config, accel, size)
    evaluations = config.iterations // config.checkpoint_every
    checkpoints = math.ceil(config.iterations / config.checkpoint_every)
    per_evaluation = {"last": 0, "fid": config.fid_holdout, "aucp": 2 * config.fid_holdout}.get(config.selection,
                                                                                          data.count("val"))
    scored = data.count("test") + data.count("val") + evaluations * per_evaluation
    notes = [] if probe_batch == batch else [f"timed at batch {probe_batch}, x{batch / probe_batch:g} (upper bound)"]
    if Accel.for_device(device, compile=config.compile, mode=config.accel).compile:
        notes.append("compile not timed (eager)")
    if config.selection == "fid":
        notes.append("without FID's Inception")
    g_bytes, d_bytes = tensor_bytes(generator), tensor_bytes(critic)
    parameters = count_parameters(generator) + count_parameters(critic)
    train_sets = training_set_bytes(data, size)
    activations = step_activation_bytes(recipe, generator, critic, config, accel, size, probe_batch)
    gpu_bytes = (ADAM_BYTES_PER_PARAMETER * parameters + activations * batch / probe_batch + train_sets)
    peak_mb = peak.mb
    if peak_mb is not None and device.type == "cpu":  # the run also holds the decoded data and its training sets
        peak_mb += (host_data_bytes(data) + train_sets) / 2**20
        notes.append("memory: the probe's peak plus the decoded splits and the training sets")
    elif peak_mb is not None:  # on CUDA the probe ran the full batch; the training sets move there too
        gpu_bytes = max(gpu_bytes, peak_mb * 2**20 + train_sets)
    log_rows = config.iterations // config.log_every
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    return CostProbe(
        parameters=parameters,
        seconds_per_step=unit / config.n_critic * batch / probe_batch, steps=int(config.iterations),
        step=f"iteration, batch {batch}", peak_memory_mb=peak_mb, gpu_memory_mb=gpu_bytes / 2**20,
        state_bytes=g_bytes + 4096,
        checkpoint_bytes=ADAM_COPIES * (g_bytes + d_bytes) + (g_bytes if config.selection != "last" else 0),
        log_bytes=log_rows * LOG_ROW_BYTES * (2 if tensorboard else 1) + SAMPLE_GRID_BYTES,
        # +1 checkpoint: the state written before the first step and the grid of the selected weights
        extra_seconds=per_image * scored + setup + per_checkpoint * (checkpoints + 1),
        notes=tuple(notes))


def training_set_bytes(data: DataShape, size: int) -> int:
    """The training sets the loop keeps on its device (`images_to_device`: uint8 at the model's size): the
    training normals and the unlabeled set. No loader workers: batches are drawn on the device (data.DeviceSampler)."""
    return (data.count("train_normal") + data.count("train_unlabeled")) * data.channels * size * size


def host_data_bytes(data: DataShape) -> int:
    """The run's decoded data in host memory: the cache's uint8 memmap of every split (its pages are resident once
    read) and the contiguous copy of each split the runner takes (`PreparedData.split`)."""
    return 2 * sum(data.counts.values()) * data.channels * data.size * data.size


def step_activation_bytes(recipe: GANRecipe, generator: torch.nn.Module, critic: torch.nn.Module, config: Any,
                          accel: Accel, size: int, batch: int) -> int:
    """The largest activation bytes of one training iteration (D step, or D and G steps) at `batch`, counted by
    forward hooks over one unit of n_critic iterations (`bench.core.cost.activation_bytes`)."""
    loop, sampler = _probe_loop(recipe, generator, critic, config, accel, size, batch)[:2]
    return max(activation_bytes((generator, critic), lambda: loop.train_step(
        {key: accel.images(x) for key, x in sampler.sample().items()})) for _ in range(config.n_critic))


def _probe_loop(recipe: GANRecipe, generator: torch.nn.Module, critic: torch.nn.Module, config: Any, accel: Accel,
                size: int, batch: int) -> tuple[GANLoop, DeviceSampler, torch.Tensor]:
    """The shared loop over random uint8 images (two sets of 2 x batch) with the method's real steps."""
    device = accel.device
    images = torch.randint(0, 256, (4 * batch, config.channels, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0)).to(device)
    first, second = recipe.set_keys
    sampler = DeviceSampler({first: images[:2 * batch], second: images[2 * batch:]}, batch, seed=0,
                            channels=config.channels)
    steps = recipe.make_steps(generator, critic, config, accel, sampler)
    loop = GANLoop(steps, sampler, LoopSettings(iterations=2**31, n_critic=config.n_critic), accel=accel,
                   folder=None, identity="probe")
    return loop, sampler, images


def time_unit(recipe: GANRecipe, generator: torch.nn.Module, critic: torch.nn.Module, config: Any, accel: Accel,
              size: int, batch: int) -> tuple[float, float, float]:
    """(seconds to set up the loop, seconds of one unit of n_critic iterations, seconds per image of G's scoring
    pass) at `batch`, on random images through the method's real steps and the shared loop. The set-up is what a
    run pays once: the first optimiser built in a process imports torch._dynamo (about 2 s on a CPU)."""
    device = accel.device
    built = []
    setup = timed(lambda: built.append(_probe_loop(recipe, generator, critic, config, accel, size, batch)), device)
    loop, sampler, images = built[0]

    def iterate(n: int) -> None:
        for _ in range(n):
            loop.train_step({key: accel.images(x) for key, x in sampler.sample().items()})

    unit = warm_timed(lambda: iterate(config.n_critic), device)
    x = to_unit_range(images[:batch], config.channels)
    score = recipe.scoring_pass or (lambda G, D, images: G(images))
    with eval_mode(generator, critic), torch.no_grad():
        per_image = warm_timed(lambda: score(generator, critic, x), device) / batch
    return setup, unit, per_image


def checkpoint_seconds(recipe: GANRecipe, generator: torch.nn.Module, critic: torch.nn.Module, config: Any,
                       accel: Accel, size: int) -> float:
    """Seconds of what the loop does at a checkpoint besides the selection's scoring (timed in `time_unit`): write
    the training state (last.pt) and the best weights (best.pt, at most once), and the sample grid."""
    loop = _probe_loop(recipe, generator, critic, config, accel, size, CPU_PROBE_BATCH)[0]
    panels = {f"panel {i}": torch.rand(GRID_ROWS, config.channels, size, size) for i in range(GRID_COLUMNS)}
    with tempfile.TemporaryDirectory(prefix="bench-probe-") as temp:
        folder = Path(temp)
        state = warm_timed(lambda: loop.save(folder / "last.pt"), accel.device)
        grid = warm_timed(lambda: save_sample_grid(folder / "samples.png", panels, row_labels=["row"] * GRID_ROWS,
                                                   title="probe"), accel.device)
    return 2 * state + grid
