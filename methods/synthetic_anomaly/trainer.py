"""The training loop of `train_chest_xray.py` / `experiments/training_utils.py`: BCE between the sigmoid map and the
synthetic label map, Adam, cosine annealing stepped once per epoch, the final weights kept (no selection)."""

from __future__ import annotations

import time
from typing import Any

import torch
import torch.nn.functional as F

from bench.core.progress import Progress
from bench.methods._gan.accel import Accel
from bench.methods.synthetic_anomaly.batches import SyntheticBatches
from bench.methods.synthetic_anomaly.networks import ResNetEncDec


def bce_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """nn.BCELoss on the sigmoid map, as the official loss; in fp32 (autocast refuses binary_cross_entropy)."""
    return F.binary_cross_entropy(torch.sigmoid(logits.float()), labels)


def train_step(network: torch.nn.Module, step_logits: Any, optimizer: torch.optim.Optimizer, accel: Accel,
               images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """One optimiser step on one batch (on the device); returns the loss (a device tensor)."""
    optimizer.zero_grad(set_to_none=True)
    with accel.autocast():
        logits = step_logits(accel.images(images))
    loss = bce_loss(logits, labels)
    loss.backward()
    optimizer.step()
    return loss.detach()


def train(network: ResNetEncDec, batches: SyntheticBatches, *, epochs: int, lr: float, min_lr: float, accel: Accel,
          progress: Progress) -> dict[str, Any]:
    """Train `network` in place for `epochs` on `batches`; returns facts for run.json (losses per epoch, timings)."""
    device = accel.device
    accel.prepare(network).train()
    step_logits = accel.maybe_compile(network.logits) if accel.compile else network.logits
    optimizer = torch.optim.Adam(network.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs, eta_min=min_lr)
    losses: list[float] = []
    synthesis_s = 0.0
    start = time.perf_counter()
    with progress.task("synthetic-anomaly training", total=epochs * batches.steps_per_epoch) as bar:
        for epoch in range(epochs):
            total = torch.zeros((), device=device)
            waited = time.perf_counter()
            for images, labels in batches.epoch(epoch):
                synthesis_s += time.perf_counter() - waited
                images = images.to(device, non_blocking=True)
                labels = labels.to(device, non_blocking=True)
                total += train_step(network, step_logits, optimizer, accel, images, labels)
                bar.advance()
                waited = time.perf_counter()
            losses.append(float(total) / batches.steps_per_epoch)
            scheduler.step()
    return {"epochs": epochs, "steps": epochs * batches.steps_per_epoch, "loss_per_epoch": losses,
            "train_s": time.perf_counter() - start, "waiting_for_synthesis_s": synthesis_s}
