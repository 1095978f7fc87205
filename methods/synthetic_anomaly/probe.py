"""The family's cost probe for `bench run --dry-run`: a timed training step of the real network at the preset's size
and batch on the run's device, and the time to synthesise one batch of the method's task on this machine's threads,
on random images (nothing decoded). With `workers` > 0 synthesis overlaps training, so a step costs the larger of the
two; with 0 it costs their sum."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bench.core.cost import CostProbe, DataShape, peak_memory, timed, warm_timed

CPU_PROBE_BUDGET_S = 2.0  # on CPU, time two images per batch, then the whole batch if that fits in this budget
ADAM_COPIES = 1  # detector.pt holds the weights only (no training checkpoints)


def probe_training(cls: Any, config: Any, data: DataShape, device: torch.device) -> CostProbe:
    """What a run of `cls` with `config` costs on `device`."""
    from bench.methods.synthetic_anomaly.batches import SyntheticBatches, crop_sizes
    from bench.methods.synthetic_anomaly.networks import ResNetEncDec, count_parameters
    from bench.methods.synthetic_anomaly.tasks import TASKS
    from bench.methods.synthetic_anomaly.trainer import train_step

    config = cls.for_dataset(config, data.name)
    size, batch = int(config.image_size), int(config.batch_size)
    load, centre = crop_sizes(size)
    pixels = _probe_images(batch, load)
    batches = SyntheticBatches(pixels, TASKS[cls.task], config.patch_settings(), image_size=size, centre=centre,
                               degrees=config.rotation_degrees, batch_size=batch, seed=0, workers=config.workers)
    try:
        synthesis = warm_timed(lambda: batches.batch(0, 0), torch.device("cpu"))
    finally:
        batches.close()
    torch.manual_seed(0)
    network = ResNetEncDec(width=config.width)
    accel = cls(config, device=device)._accel()
    accel.prepare(network).train()
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr)

    def step_at(n: int) -> float:
        x = torch.rand(n, 1, size, size, device=device)
        y = (torch.rand(n, 1, size, size, device=device) > 0.9).float()
        return warm_timed(lambda: train_step(network, network.logits, optimizer, accel, x, y), device)

    with peak_memory(device) as peak:
        probe_batch = batch if device.type == "cuda" else min(batch, 2)  # BatchNorm needs 2 at 32 px
        step = step_at(probe_batch)
        if probe_batch < batch and step * batch < CPU_PROBE_BUDGET_S:
            probe_batch, step = batch, step_at(batch)
        step *= batch / probe_batch
        network.eval()
        x = torch.rand(min(batch, 16), 1, size, size, device=device)
        with torch.no_grad():
            per_image = timed(lambda: network(x), device) / len(x)
    n_train = data.count("train_normal", batch)
    steps = int(config.epochs) * -(-n_train // batch)
    per_step = max(step, synthesis) if config.workers > 0 else step + synthesis
    notes = [f"synthesis {synthesis:.2f} s/batch ({config.workers} threads) vs training {step:.2f} s/step: "
             f"{'synthesis' if synthesis > step else 'training'} bounds it"]
    if probe_batch != batch:
        notes.append(f"training step timed at batch {probe_batch}, x{batch / probe_batch:g}")
    if accel.compile:
        notes.append("compile not timed (eager)")
    weights = sum(t.numel() * t.element_size() for t in network.state_dict().values())
    return CostProbe(parameters=count_parameters(network), seconds_per_step=per_step, steps=steps,
                     step=f"step, batch {batch} at {size} px", peak_memory_mb=peak.mb,
                     state_bytes=ADAM_COPIES * weights + 4096,
                     extra_seconds=per_image * (data.count("test") + data.count("val")), notes=tuple(notes))


def _probe_images(n: int, side: int) -> np.ndarray:
    """Random uint8 images above the background threshold (so patches find object everywhere, as on radiographs)."""
    return np.random.default_rng(0).integers(40, 256, (max(n, 2), side, side), dtype=np.uint8)
