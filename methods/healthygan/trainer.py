"""HealthyGAN's training: its D and G steps plugged into the shared GAN loop (bench.methods._gan).

Batched where exactly equivalent: G runs on the mixed batch A and the healthy batch B in one pass
(InstanceNorm is per-sample); the critic scores real and fake in one pass (it has no batch statistics); on
iterations with a G step, the D step's generator pass (with gradients) is reused by the G step (G does not
change in between).
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
from bench.methods.healthygan.losses import compose, focus_loss, l1, mask_inverse
from bench.methods.healthygan.networks import Critic, Generator, critic_depth
from bench.methods.healthygan.presets import HealthyGANConfig
from bench.progress import Progress

FIDFeatures = Callable[[torch.Tensor], torch.Tensor]
CheckpointHook = Callable[[Mapping[str, torch.Tensor], int], None]


class HealthyGANSteps:
    """The D step (WGAN-GP on healthy B vs translated A) and the G step (two adversarial terms, identity on
    the raw image of G(B), mask-inverse reconstruction of A, focus loss on both masks)."""

    best_modules = ("G",)

    def __init__(self, generator: Generator, critic: Critic, config: HealthyGANConfig, accel: Accel) -> None:
        self.G, self.D, self.config = generator, critic, config
        self.G_train = accel.maybe_compile(generator)  # shares parameters with G
        self.modules = {"G": generator, "D": critic}
        betas = (config.beta1, config.beta2)
        self.optimizers = {"G": torch.optim.Adam(generator.parameters(), lr=config.g_lr, betas=betas),
                           "D": torch.optim.Adam(critic.parameters(), lr=config.d_lr, betas=betas)}
        self._kept: tuple[torch.Tensor, torch.Tensor] | None = None

    def d_step(self, batch: Mapping[str, torch.Tensor], *, g_step_follows: bool) -> dict[str, torch.Tensor]:
        mixed, healthy = batch["A"], batch["B"]
        n = mixed.shape[0]
        if g_step_follows:
            image, mask = self.G_train(torch.cat([mixed, healthy]))
            self._kept = (image, mask)
            fake = compose(mixed, image[:n], mask[:n])
        else:
            with torch.no_grad():
                image, mask = self.G_train(mixed)
                fake = compose(mixed, image, mask)
        return critic_loss_gp(self.D, real=healthy, fake=fake, lambda_gp=self.config.lambda_gp)

    def g_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        c = self.config
        mixed, healthy = batch["A"], batch["B"]
        n = mixed.shape[0]
        image, mask = self._kept if self._kept is not None else self.G_train(torch.cat([mixed, healthy]))
        self._kept = None
        image_a, image_b, mask_a, mask_b = image[:n], image[n:], mask[:n], mask[n:]
        translated_a = compose(mixed, image_a, mask_a)
        translated_b = compose(healthy, image_b, mask_b)
        critic = self.D(torch.cat([translated_a, translated_b])).float()
        adversarial = -critic[:n].mean() - critic[n:].mean()
        identity = l1(healthy, image_b)
        reconstruction = l1(mixed, mask_inverse(mixed, image_a, mask_a))
        focus = 0.5 * focus_loss(mask_a, c.lambda_small, c.lambda_zeroone) \
            + 0.5 * focus_loss(mask_b, c.lambda_small, c.lambda_zeroone)
        total = adversarial + c.lambda_id * identity + c.lambda_rec * reconstruction + c.lambda_mask * focus
        return {"loss": total, "adv": adversarial.detach(), "id": identity.detach(),
                "rec": reconstruction.detach(), "focus": focus.detach(), "mask": mask.detach().float().mean()}


def model_size(config: HealthyGANConfig, data: ImageSet) -> int:
    """The side length the networks work at (square images)."""
    height, width = data.size
    if config.image_size is None and height != width:
        raise BenchError(f"HealthyGAN needs square images, got {height}x{width}; set image_size")
    return config.image_size or height


def build_networks(config: HealthyGANConfig, size: int) -> tuple[Generator, Critic]:
    """G and D for `size` px images (D's depth capped so its output map stays >= 1 x 1)."""
    generator = Generator(config.channels, config.g_conv_dim, config.g_res_blocks)
    critic = Critic(config.channels, config.d_conv_dim, critic_depth(size, config.d_repeat_num),
                    init=config.critic_init)
    return generator, critic


def train(generator: Generator, critic: Critic, data: TrainData, *, config: HealthyGANConfig, seed: int,
          accel: Accel, workdir: Path | None, progress: Progress,
          score: Callable[[ImageSet], np.ndarray], translate: Callable[[torch.Tensor], torch.Tensor],
          val: ImageSet | None = None, fid_features: FIDFeatures | None = None,
          on_checkpoint: CheckpointHook | None = None) -> tuple[TrainResult, dict[str, torch.Tensor]]:
    """Train G and D in place (resuming from `workdir`) and leave the selected weights in G.

    `on_checkpoint(sets, iteration)` runs at each checkpoint with the device-resident training sets.
    Returns the loop's result and those sets."""
    if data.unlabeled is None or len(data.unlabeled) == 0:
        raise BenchError("HealthyGAN needs an unlabeled (mixed) training set besides the healthy one")
    size = model_size(config, data.normal)
    mixed, healthy = data.unlabeled, data.normal
    chosen = setup_selection(config.selection, mixed, healthy, device=accel.device, size=size,
                             channels=config.channels, holdout=config.fid_holdout, seed=seed, score=score,
                             translate=translate, val=val, fid_features=fid_features,
                             fid_weights=config.fid_weights)
    mixed, healthy, selector = chosen.unlabeled, chosen.normal, chosen.selector
    sets = {"A": images_to_device(mixed, accel.device, size=size),
            "B": images_to_device(healthy, accel.device, size=size)}
    sampler = DeviceSampler(sets, config.batch_size, seed=seed, channels=config.channels, hflip=config.hflip)
    for module in (generator, critic):
        accel.prepare(module).train()
    steps = HealthyGANSteps(generator, critic, config, accel)
    settings = LoopSettings(iterations=config.iterations, n_critic=config.n_critic,
                            checkpoint_every=config.checkpoint_every, log_every=config.log_every,
                            lr_decay=config.lr_decay, lr_decay_iters=config.lr_decay_iters,
                            description="healthygan")
    identity = fingerprint(config_to_dict(config), seed, size, ids_digest(mixed), ids_digest(healthy))
    hook = None if on_checkpoint is None else (lambda iteration: on_checkpoint(sets, iteration))
    loop = GANLoop(steps, sampler, settings, accel=accel, folder=workdir, identity=identity,
                   selector=selector, progress=progress, on_checkpoint=hook)
    return loop.run(), sets
