"""`python -m benchmarks.synthetic_anomaly [--device D] [--size 224] [--batch-size 64] [--threads 1,8]`: does the
synthesis starve the network? Synthetic batches per second (the four tasks' `patch_ex` with the official
augmentation, on 1 and N threads) against training steps per second of the ResNet-18 encoder-decoder (our step:
bf16 autocast + channels_last on CUDA; plain fp32 eager as the reference), same batch and size, same process.
Training waits for synthesis when a task's batches/s is below the steps/s; `bottleneck` says which it is."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from bench.core.device import resolve_device


def synthesis_rate(task: str, size: int, batch: int, workers: int, batches: int) -> float:
    """Synthetic batches per second of `task` at `size` px, built by `workers` threads (0: inline)."""
    from bench.methods.synthetic_anomaly.batches import SyntheticBatches, crop_sizes
    from bench.methods.synthetic_anomaly.synthesis import PatchSettings
    from bench.methods.synthetic_anomaly.tasks import TASKS

    load, centre = crop_sizes(size)
    images = _radiographs(max(2 * batch, 16), load)
    maker = SyntheticBatches(images, TASKS[task], PatchSettings(), image_size=size, centre=centre, degrees=3.0,
                             batch_size=batch, seed=0, workers=workers)
    try:
        maker.batch(0, 0)
        start = time.perf_counter()
        for i in range(batches):
            maker.batch(1, i % maker.steps_per_epoch)
        return batches / (time.perf_counter() - start)
    finally:
        maker.close()


def build_step(device: torch.device, size: int, batch: int, accel_mode: str, compile: bool) -> Callable[[], Any]:
    """One training step of the ResNet-18 encoder-decoder (the trainer's `train_step`, Adam 1e-3) on a random
    batch already on the device, as a zero-argument callable."""
    from bench.methods._gan.accel import Accel
    from bench.methods.synthetic_anomaly.networks import ResNetEncDec
    from bench.methods.synthetic_anomaly.trainer import train_step

    torch.manual_seed(0)
    network = ResNetEncDec()
    accel = Accel.for_device(device, compile=compile, mode=accel_mode)
    accel.prepare(network).train()
    logits = accel.maybe_compile(network.logits) if accel.compile else network.logits
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, size, size, device=device)
    y = (torch.rand(batch, 1, size, size, device=device) > 0.9).float()
    return lambda: train_step(network, logits, optimizer, accel, x, y)


def step_rate(device: torch.device, size: int, batch: int, accel_mode: str, steps: int, compile: bool) -> float:
    """Training steps per second of the network on random batches already on the device."""
    step = build_step(device, size, batch, accel_mode, compile)
    for _ in range(3 if device.type == "cuda" else 1):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return steps / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _radiographs(n: int, side: int) -> np.ndarray:
    """Smooth bright bodies with noise on a dark border strip (mostly object, as chest radiographs)."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:side, :side]
    body = 60 + 120 * np.exp(-((yy - side / 2) ** 2 + (xx - side / 2) ** 2) / (2 * (side / 3) ** 2))
    images = body[None] + rng.normal(0, 12, (n, side, side))
    images[:, :, : side // 10] = 0
    return np.clip(images, 0, 255).astype(np.uint8)


def measure(device: torch.device, size: int, batch: int, threads: list[int], tasks: list[str], batches: int,
            steps: int, compile: bool = False) -> dict[str, Any]:
    """The table as a dict: steps/s (ours, reference), batches/s per task and thread count, and the bottleneck."""
    ours = step_rate(device, size, batch, "auto", steps, compile)
    reference = step_rate(device, size, batch, "off", steps, False)
    rows = {}
    for task in tasks:
        rates = {str(w): synthesis_rate(task, size, batch, w, batches) for w in threads}
        best = max(rates.values())
        rows[task] = {"batches_per_s": rates, "bottleneck": "synthesis" if best < ours else "training"}
    return {"device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "cpu_count": os.cpu_count(), "size": size, "batch": batch,
            "steps_per_s": {"ours": ours, "fp32_eager": reference}, "synthesis": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.synthetic_anomaly", description=__doc__)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", default="0,8", help="synthesis threads to measure (0: inline)")
    parser.add_argument("--tasks", default="cutpaste,fpi,pii,nsa")
    parser.add_argument("--batches", type=int, default=5, help="synthetic batches timed per task and thread count")
    parser.add_argument("--steps", type=int, default=10, help="training steps timed per side")
    parser.add_argument("--compile", action="store_true", help="torch.compile our step")
    options = parser.parse_args(argv)
    result = measure(resolve_device(options.device), options.size, options.batch_size,
                     [int(t) for t in options.threads.split(",")], options.tasks.split(","), options.batches,
                     options.steps, options.compile)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
