"""DDAD's cost probe for `bench run --dry-run`: timed optimiser steps of one autoencoder and of the ASR-Net (with
the 2K frozen autoencoders' forward passes) at the preset's size and batches, on random images, on the run's
device; the run's steps are 2K autoencoders' epochs and the ASR-Net's."""

from __future__ import annotations

import importlib.util
from typing import Any

import torch

from bench.core.cost import CostProbe, DataShape, peak_memory, warm_timed
from bench.methods._gan.accel import Accel
from bench.methods.ddad.discrepancy import REFINED
from bench.methods.ddad.networks import count_parameters
from bench.methods.ddad.presets import DDADConfig
from bench.methods.ddad.trainer import MIXED, NORMAL, DDADTraining, phases

CPU_PROBE_BATCH = 8  # a paper-size CPU step takes seconds: time at this batch and scale linearly (an upper bound)
LOG_ROW_BYTES = 160
ADAM_COPIES = 3  # a checkpoint holds the weights and Adam's two moments


def tensor_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def probe_training(config: DDADConfig, data: DataShape, device: torch.device) -> CostProbe:
    """Seconds per optimiser step (the run's mean over its autoencoder and ASR steps), the run's steps, the
    networks' parameters and the run folder's bytes."""
    from bench.methods.ddad.trainer import build_seeded

    accel = Accel.for_device(device, amp=config.amp, channels_last=config.channels_last, compile=False,
                             mode=config.accel)
    size = config.image_size
    n_normal, n_unlabeled = max(data.count("train_normal"), 1), data.count("train_unlabeled")
    plan = phases(config)
    cpu = device.type != "cuda"
    probe_config = config
    if cpu:
        import dataclasses

        probe_config = dataclasses.replace(config, batch_size=min(config.batch_size, CPU_PROBE_BATCH),
                                           asr_batch_size=min(config.asr_batch_size, CPU_PROBE_BATCH))
    generator = torch.Generator(device="cpu").manual_seed(0)
    n_images = max(probe_config.batch_size, probe_config.asr_batch_size) * 2
    images = torch.randint(0, 256, (n_images, 1, size, size), dtype=torch.uint8, generator=generator).to(device)
    training = DDADTraining(probe_config, {NORMAL: images, MIXED: images}, accel=accel, folder=None,
                            identity="probe", seed=0)
    ae = accel.prepare(build_seeded(plan[0], config, 0)).train()
    networks: dict[str, torch.nn.Module] = {p.name: ae for p in plan if p.name != "asr"}
    seconds: dict[str, float] = {}
    with peak_memory(device) as peak:
        seconds["ae"] = _time_step(training._ae_step(ae, images), ae, probe_config.batch_size, device)
        refine = None
        if config.score in REFINED:
            asr = plan[-1]
            refine = accel.prepare(build_seeded(asr, config, 0)).train()
            ae.eval()
            seconds["asr"] = _time_step(training._asr_step(refine, networks), refine, probe_config.asr_batch_size,
                                        device)
    scale_ae = config.batch_size / probe_config.batch_size
    scale_asr = config.asr_batch_size / probe_config.asr_batch_size
    steps = {p.name: p.epochs * p.steps_per_epoch(n_unlabeled + n_normal if p.data == MIXED else n_normal)
             for p in plan}
    total_steps = sum(steps.values())
    total_seconds = sum(s * (seconds["asr"] * scale_asr if name == "asr" else seconds["ae"] * scale_ae)
                        for name, s in steps.items())
    notes = [] if not cpu else [f"timed at batch {probe_config.batch_size} (ASR {probe_config.asr_batch_size}), "
                                "scaled by the batch (upper bound)"]
    if Accel.for_device(device, compile=config.compile, mode=config.accel).compile:
        notes.append("compile not timed (eager)")
    ae_bytes = tensor_bytes(ae)
    refine_bytes = 0 if refine is None else tensor_bytes(refine)
    n_ae = 2 * config.n_networks
    tensorboard = importlib.util.find_spec("tensorboard") is not None
    scored = data.count("test") + data.count("val")
    per_image_scoring = seconds["ae"] * scale_ae / config.batch_size * n_ae / 3  # forward ~ a third of a step
    return CostProbe(
        parameters=n_ae * count_parameters(ae) + (0 if refine is None else count_parameters(refine)),
        seconds_per_step=total_seconds / total_steps, steps=total_steps,
        step=f"optimiser step (autoencoders batch {config.batch_size}"
             + (f", ASR-Net batch {config.asr_batch_size})" if config.score in REFINED else ")"),
        peak_memory_mb=peak.mb, state_bytes=n_ae * ae_bytes + refine_bytes + 4096,
        checkpoint_bytes=n_ae * ae_bytes + refine_bytes + ADAM_COPIES * max(ae_bytes, refine_bytes),
        log_bytes=sum(p.epochs for p in plan) * LOG_ROW_BYTES * (2 if tensorboard else 1),
        extra_seconds=per_image_scoring * scored, notes=tuple(notes))


def _time_step(step: Any, module: torch.nn.Module, batch: int, device: torch.device) -> float:
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-4)
    generator = torch.Generator(device=device).manual_seed(0)
    indices = torch.arange(batch, device=device)

    def one() -> None:
        optimizer.zero_grad(set_to_none=True)
        step(indices, generator)["loss"].backward()
        optimizer.step()

    return warm_timed(one, device)
