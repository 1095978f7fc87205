"""SAGAN's training: its D and G steps plugged into the shared GAN loop (bench.methods._gan).

Batched where exactly equivalent: on iterations with a G step, G restores the unlabeled batch x_u, the normal
batch x_n and the pseudo-anomalies x_p in one pass (InstanceNorm is per-sample and the Bernoulli gate is
per-pixel), and the G step reuses that pass (G does not change between the two steps); the critic scores real
and fake in one pass (it has no batch statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch

from bench.config import config_to_dict
from bench.detector import ImageSet, TrainData
from bench.errors import BenchError
from bench.methods._gan import (
    Accel,
    DeviceSampler,
    GANLoop,
    LoopSettings,
    TrainResult,
    critic_loss_gp,
    fingerprint,
    ids_digest,
    images_to_device,
    setup_selection,
)
from bench.methods.healthygan.networks import Critic, critic_depth
from bench.methods.sagan.losses import generator_loss
from bench.methods.sagan.networks import SAGANGenerator
from bench.methods.sagan.presets import SAGANConfig
from bench.methods.sagan.pseudo_anomaly import make_pseudo_anomalies
from bench.progress import Progress

FIDFeatures = Callable[[torch.Tensor], torch.Tensor]
CheckpointHook = Callable[[Mapping[str, torch.Tensor], int], None]
UNLABELED, NORMAL = "U", "N"


class SAGANSteps:
    """The D step (WGAN-GP on normals vs restored unlabeled images) and the G step (adversarial on x'_u,
    identity L1 on x'_n, squared restoration of the pseudo-anomalies x'_p towards x_n)."""

    best_modules = ("G",)

    def __init__(self, generator: SAGANGenerator, critic: Critic, config: SAGANConfig, accel: Accel) -> None:
        self.G, self.D, self.config = generator, critic, config
        self.G_train = accel.maybe_compile(generator)  # shares parameters with G
        self.modules = {"G": generator, "D": critic}
        betas = (config.beta1, config.beta2)
        self.optimizers = {"G": torch.optim.Adam(generator.parameters(), lr=config.g_lr, betas=betas),
                           "D": torch.optim.Adam(critic.parameters(), lr=config.d_lr, betas=betas)}
        self._kept: torch.Tensor | None = None

    def _restore_all(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """G on cat(x_u, x_n[, x_p]) in one pass, with gradients."""
        parts = [batch[UNLABELED], batch[NORMAL]]
        if self.config.pseudo_anomalies:
            parts.append(make_pseudo_anomalies(batch[NORMAL]).images)
        return self.G_train(torch.cat(parts))

    def d_step(self, batch: Mapping[str, torch.Tensor], *, g_step_follows: bool) -> dict[str, torch.Tensor]:
        unlabeled, normal = batch[UNLABELED], batch[NORMAL]
        if g_step_follows:
            self._kept = self._restore_all(batch)
            restored_unlabeled = self._kept[: unlabeled.shape[0]]
        else:
            with torch.no_grad():
                restored_unlabeled = self.G_train(unlabeled)
        return critic_loss_gp(self.D, real=normal, fake=restored_unlabeled, lambda_gp=self.config.lambda_gp)

    def g_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        normal = batch[NORMAL]
        restored = self._kept if self._kept is not None else self._restore_all(batch)
        self._kept = None
        n_u, n_n = batch[UNLABELED].shape[0], normal.shape[0]
        restored_unlabeled, restored_normal = restored[:n_u], restored[n_u:n_u + n_n]
        restored_pseudo = restored[n_u + n_n:] if c.pseudo_anomalies else None
        total, parts = generator_loss(self.D(restored_unlabeled), restored_normal, normal, restored_pseudo,
                                      c.lambda_id, c.lambda_rec)
        return {"loss": total, **parts}


def model_size(config: SAGANConfig, data: ImageSet) -> int:
    """The side length the networks work at (square, divisible by 8 * N with ACM)."""
    height, width = data.size
    if config.image_size is None and height != width:
        raise BenchError(f"SAGAN needs square images, got {height}x{width}; set image_size")
    size = config.image_size or height
    step = 8 * (config.n_patches if config.acm else 1)
    if size % step:
        raise BenchError(f"SAGAN at image_size={size} needs a multiple of {step} (8 x n_patches)")
    return size


def build_generator(config: SAGANConfig) -> SAGANGenerator:
    """G as configured (also used to rebuild a saved detector)."""
    return SAGANGenerator(config.channels, config.g_conv_dim, config.n_patches, config.g_res_blocks,
                          acm=config.acm, arrm=config.arrm, keep_prob=config.keep_prob,
                          gate_at_test=config.gate_at_test)


def build_networks(config: SAGANConfig, size: int) -> tuple[SAGANGenerator, Critic]:
    """G, and HealthyGAN's critic for `size` px images (depth capped so its output map stays >= 1 x 1)."""
    critic = Critic(config.channels, config.d_conv_dim, critic_depth(size, config.d_repeat_num),
                    init=config.critic_init)
    return build_generator(config), critic


def train(generator: SAGANGenerator, critic: Critic, data: TrainData, *, config: SAGANConfig, seed: int,
          accel: Accel, workdir: Path | None, progress: Progress,
          score: Callable[[ImageSet], np.ndarray], translate: Callable[[torch.Tensor], torch.Tensor],
          val: ImageSet | None = None, fid_features: FIDFeatures | None = None,
          on_checkpoint: CheckpointHook | None = None) -> tuple[TrainResult, dict[str, torch.Tensor]]:
    """Train G and D in place (resuming from `workdir`) and leave the selected weights in G.

    `on_checkpoint(sets, iteration)` runs at each checkpoint with the device-resident training sets.
    Returns the loop's result and those sets."""
    if data.unlabeled is None or len(data.unlabeled) == 0:
        raise BenchError("SAGAN needs an unlabeled training set besides the normal one")
    size = model_size(config, data.normal)
    unlabeled, normal = data.unlabeled, data.normal
    chosen = setup_selection(config.selection, unlabeled, normal, device=accel.device, size=size,
                             channels=config.channels, holdout=config.fid_holdout, seed=seed, score=score,
                             translate=translate, val=val, fid_features=fid_features,
                             fid_weights=config.fid_weights)
    unlabeled, normal, selector = chosen.unlabeled, chosen.normal, chosen.selector
    sets = {UNLABELED: images_to_device(unlabeled, accel.device, size=size),
            NORMAL: images_to_device(normal, accel.device, size=size)}
    sampler = DeviceSampler(sets, config.batch_size, seed=seed, channels=config.channels, hflip=config.hflip)
    for module in (generator, critic):
        accel.prepare(module).train()
    steps = SAGANSteps(generator, critic, config, accel)
    settings = LoopSettings(iterations=config.iterations, n_critic=config.n_critic,
                            checkpoint_every=config.checkpoint_every, log_every=config.log_every,
                            lr_decay=config.lr_decay, lr_decay_iters=config.lr_decay_iters, description="sagan")
    identity = fingerprint(config_to_dict(config), seed, size, ids_digest(unlabeled), ids_digest(normal))
    hook = None if on_checkpoint is None else (lambda iteration: on_checkpoint(sets, iteration))
    loop = GANLoop(steps, sampler, settings, accel=accel, folder=workdir, identity=identity,
                   selector=selector, progress=progress, on_checkpoint=hook)
    return loop.run(), sets
