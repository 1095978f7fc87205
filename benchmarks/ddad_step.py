"""DDAD's training-step throughput for `make gpu-check`: the real steps of bench's DDAD trainer (one autoencoder's
step; the ASR-Net's step with the 2K frozen autoencoders' forward passes) with `accel=on` (bf16 autocast,
channels_last, optionally torch.compile) against the same steps in plain fp32 eager, same networks, same batch,
same process."""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from bench.core.cost import peak_memory
from bench.methods._gan.accel import Accel
from bench.methods.ddad.presets import PRESETS
from bench.methods.ddad.trainer import ASR, MIXED, NORMAL, DDADTraining, build_seeded, phases
from benchmarks.gan_step import time_calls

SMOKE = {"image_size": 32, "multiplier": 0.25, "batch_size": 4, "asr_batch_size": 4, "asr_channels": 8}


def step_calls(accel: Accel, config: Any) -> dict[str, Any]:
    """{"ae": one autoencoder step, "asr": one ASR-Net step}, each a zero-argument callable."""
    plan = phases(config)
    size = config.image_size
    n = 2 * max(config.batch_size, config.asr_batch_size)
    images = torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0)).to(accel.device)
    training = DDADTraining(config, {NORMAL: images, MIXED: images}, accel=accel, folder=None, identity="bench",
                            seed=0)
    ae = accel.prepare(build_seeded(plan[0], config, 0)).train()
    frozen = {p.name: accel.prepare(build_seeded(p, config, 0)).eval() for p in plan if p.name != ASR}
    refine = accel.prepare(build_seeded(plan[-1], config, 0)).train()
    generator = torch.Generator(device=accel.device).manual_seed(0)
    calls = {}
    for name, module, step, batch in (("ae", ae, training._ae_step(ae, images), config.batch_size),
                                      ("asr", refine, training._asr_step(refine, frozen), config.asr_batch_size)):
        optimizer = torch.optim.Adam(module.parameters(), lr=1e-4)
        indices = torch.arange(batch, device=accel.device)

        def call(step=step, optimizer=optimizer, indices=indices) -> None:
            optimizer.zero_grad(set_to_none=True)
            step(indices, generator)["loss"].backward()
            optimizer.step()

        calls[name] = call
    return calls


def ddad_step_throughput(device: torch.device, *, smoke: bool, compile: bool) -> dict[str, Any]:
    """Steps/s of ours (accel on) and of fp32 eager for the autoencoder step and the ASR step, and their ratios."""
    config = PRESETS["paper"] if not smoke else dataclasses.replace(PRESETS["tiny"], **SMOKE)
    units, warmup = (2, 1) if smoke else (30, 5)
    ours = Accel.for_device(device, amp=True, channels_last=True, compile=compile, mode="on")
    reference = Accel.for_device(device, mode="off")
    timings: dict[str, dict[str, float]] = {}
    peaks: dict[str, float | None] = {}
    for side, accel in (("ours", ours), ("reference", reference)):
        with peak_memory(device) as peak:
            timings[side] = {name: 1.0 / time_calls(fn, units, warmup, device)
                             for name, fn in step_calls(accel, config).items()}
        peaks[side] = peak.mb
    return {"setting": f"{config.image_size} px, AE batch {config.batch_size}, ASR batch {config.asr_batch_size}, "
                       f"K={config.n_networks}",
            "ours": {"it_s": timings["ours"]["ae"], "asr_it_s": timings["ours"]["asr"],
                     "peak_memory_mb": peaks["ours"]},
            "reference": {"it_s": timings["reference"]["ae"], "asr_it_s": timings["reference"]["asr"],
                          "peak_memory_mb": peaks["reference"]},
            "ratio": timings["ours"]["ae"] / timings["reference"]["ae"],
            "asr_ratio": timings["ours"]["asr"] / timings["reference"]["asr"], "ours_accel": ours.info()}
