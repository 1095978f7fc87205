"""ALOCC's D and R steps on the shared GAN loop (one loop iteration = one D step and `g_updates` R steps on the
same noisy batch, as models.py `train`), and the recipe the shared cost probe reads."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch

from bench.methods._gan import Accel, DeviceSampler
from bench.methods._gan.ema import ema_update
from bench.methods._gan.trainer import GANRecipe
from bench.methods.alocc.losses import add_noise, d_loss, g_loss
from bench.methods.alocc.networks import Discriminator, Refiner
from bench.methods.alocc.presets import ALOCCConfig

NORMAL = "N"


class ALOCCSteps:
    """D: BCE on real x (1) and R(x_noisy) (0), two separate passes (D's BatchNorm sees each batch alone, as in
    the code). R: `g_updates` updates of BCE(D(R(x_noisy)), 1) + r_alpha * refinement; the loop steps the last one,
    this object the ones before it (the loop zeroes R's gradients before the G step and steps after it)."""

    best_modules: tuple[str, ...] = ("R", "D")

    def __init__(self, refiner: Refiner, critic: Discriminator, config: ALOCCConfig, accel: Accel,
                 sampler: DeviceSampler | None = None) -> None:
        self.R, self.D, self.config = refiner, critic, config
        self.R_train = accel.maybe_compile(refiner)
        self.modules = {"R": refiner, "D": critic}
        self.optimizers = {"G": tf_rmsprop(refiner, config.lr), "D": tf_rmsprop(critic, config.lr)}
        self.ema: dict[str, torch.nn.Module] = {}
        if config.ema_decay is not None:  # bench's option (not in the code): score with averaged weights
            self.ema = {"R_ema": copy.deepcopy(refiner).requires_grad_(False),
                        "D_ema": copy.deepcopy(critic).requires_grad_(False)}
            self.modules.update(self.ema)
            self.best_modules = ("R_ema", "D_ema")
            decay = config.ema_decay
            self.optimizers["G"].register_step_post_hook(lambda *_: ema_update(self.ema["R_ema"], refiner, decay))
            self.optimizers["D"].register_step_post_hook(lambda *_: ema_update(self.ema["D_ema"], critic, decay))
        self._noisy: torch.Tensor | None = None

    def d_step(self, batch: Mapping[str, torch.Tensor], *, g_step_follows: bool) -> dict[str, torch.Tensor]:
        x = batch[NORMAL]
        self._noisy = noisy = add_noise(x, self.config.noise_sigma)
        with torch.no_grad():
            refined = self.R_train(noisy)
        d_real, d_fake = self.D(x), self.D(refined)
        return {"loss": d_loss(d_real, d_fake), "d_real": torch.sigmoid(d_real.float()).mean().detach(),
                "d_fake": torch.sigmoid(d_fake.float()).mean().detach()}

    def _r_loss(self, x: torch.Tensor, noisy: torch.Tensor) -> dict[str, torch.Tensor]:
        c = self.config
        refined = self.R_train(noisy)
        total, adversarial, rec = g_loss(self.D(refined), refined, noisy, x, c.r_alpha, c.refinement)
        return {"loss": total, "adv": adversarial.detach(), "refine": rec.detach()}

    def g_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        x = batch[NORMAL]
        noisy = self._noisy if self._noisy is not None else add_noise(x, self.config.noise_sigma)
        optimizer = self.optimizers["G"]
        for _ in range(self.config.g_updates - 1):
            self._r_loss(x, noisy)["loss"].backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return self._r_loss(x, noisy)


def tf_rmsprop(module: torch.nn.Module, lr: float) -> torch.optim.RMSprop:
    """tf.train.RMSPropOptimizer(lr): decay 0.9, momentum 0, epsilon 1e-10, and its mean-square slot starts at
    ones (torch's at zeros), so the first steps are about lr x gradient instead of lr x sign(gradient) / 0.32."""
    optimizer = torch.optim.RMSprop(module.parameters(), lr=lr, alpha=0.9, eps=1e-10)
    for p in module.parameters():
        optimizer.state[p] = {"step": torch.tensor(0.0), "square_avg": torch.ones_like(p)}
    return optimizer


def model_size(config: ALOCCConfig, data: Any) -> int:
    return config.image_size


def build_networks(config: ALOCCConfig, size: int) -> tuple[Refiner, Discriminator]:
    return Refiner(config.channels, config.gf_dim, config.df_dim), Discriminator(size, config.channels, config.df_dim)


RECIPE = GANRecipe(label="ALOCC", description="alocc", set_keys=(NORMAL, "unused"), unlabeled_needed="",
                   model_size=model_size, build_networks=build_networks,
                   build_generator=lambda config: Refiner(config.channels, config.gf_dim, config.df_dim),
                   make_steps=ALOCCSteps)
