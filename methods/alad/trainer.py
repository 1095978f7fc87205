"""ALAD's steps on the shared GAN loop: per iteration one update of the three discriminators on a batch, then one
of E and G on another batch (the code's `trainx` and its independently shuffled `trainx_copy`), fresh z ~ N(0, 1)
each; EMA copies of E, G and D_xx (decay 0.999) follow every update and are what validation and test use. Early
stopping: `EarlyStoppingLoop` ends training after `patience` validation evaluations without improvement."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from bench.core.images import ImageSet
from bench.methods._gan import Accel, DeviceSampler, GANLoop, images_to_device, to_unit_range
from bench.methods._gan.ema import ema_update
from bench.methods._gan.trainer import GANRecipe
from bench.methods.alad.losses import discriminator_loss, feature_matching_score, generator_encoder_loss
from bench.methods.alad.networks import Discriminators, Generators
from bench.methods.alad.presets import ALADConfig

D_BATCH, G_BATCH = "N", "M"  # two independent draws from the normal set


class ALADSteps:
    """d_step: the three discriminators' losses (one Adam over D_xz, D_xx, D_zz); g_step: E's and G's losses (one
    Adam over both, see losses.generator_encoder_loss). EMA copies update after each optimiser step."""

    best_modules = ("E_ema", "G_ema", "Dxx_ema")

    def __init__(self, gens: Generators, discs: Discriminators, config: ALADConfig, accel: Accel,
                 sampler: DeviceSampler | None = None) -> None:
        self.E, self.G = gens["E"], gens["G"]
        self.Dxz, self.Dxx, self.Dzz = discs["xz"], discs["xx"], discs["zz"]
        self.config = config
        self.ema = {"E_ema": copy.deepcopy(self.E), "G_ema": copy.deepcopy(self.G),
                    "Dxx_ema": copy.deepcopy(self.Dxx)}
        for module in self.ema.values():
            module.requires_grad_(False)
        self.modules = {"E": self.E, "G": self.G, "Dxz": self.Dxz, "Dxx": self.Dxx, "Dzz": self.Dzz, **self.ema}
        betas = (config.beta1, config.beta2)
        self.optimizers = {"D": torch.optim.Adam(discs.parameters(), lr=config.lr, betas=betas),
                           "G": torch.optim.Adam(gens.parameters(), lr=config.lr, betas=betas)}
        decay = config.ema_decay
        self.optimizers["D"].register_step_post_hook(
            lambda *_: ema_update(self.ema["Dxx_ema"], self.Dxx, decay))
        self.optimizers["G"].register_step_post_hook(lambda *_: (ema_update(self.ema["E_ema"], self.E, decay),
                                                                 ema_update(self.ema["G_ema"], self.G, decay)))

    def _forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = torch.randn(x.shape[0], self.config.latent_dim, device=x.device)
        z_gen = self.E(x)
        x_gen = self.G(z)
        rec_x = self.G(z_gen)
        rec_z = self.E(x_gen)
        l_encoder, _ = self.Dxz(x, z_gen)
        l_generator, _ = self.Dxz(x_gen, z)
        x_real, _ = self.Dxx(x, x)
        x_fake, _ = self.Dxx(x, rec_x)
        z_real, _ = self.Dzz(z, z)
        z_fake, _ = self.Dzz(z, rec_z)
        return {"l_encoder": l_encoder, "l_generator": l_generator, "x_real": x_real, "x_fake": x_fake,
                "z_real": z_real, "z_fake": z_fake}

    def d_step(self, batch: Mapping[str, torch.Tensor], *, g_step_follows: bool) -> dict[str, torch.Tensor]:
        x = batch[D_BATCH]
        z = torch.randn(x.shape[0], self.config.latent_dim, device=x.device)
        with torch.no_grad():  # E and G are not updated here (train-mode BatchNorm, as the code's is_training)
            z_gen, x_gen = self.E(x), self.G(z)
            rec_x, rec_z = self.G(z_gen), self.E(x_gen)
        l_encoder, _ = self.Dxz(x, z_gen)
        l_generator, _ = self.Dxz(x_gen, z)
        x_real, _ = self.Dxx(x, x)
        x_fake, _ = self.Dxx(x, rec_x)
        z_real, _ = self.Dzz(z, z)
        z_fake, _ = self.Dzz(z, rec_z)
        return discriminator_loss(l_encoder, l_generator, x_real, x_fake, z_real, z_fake)

    def g_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self._forward(batch[G_BATCH])
        return generator_encoder_loss(out["l_encoder"], out["l_generator"], out["x_real"], out["x_fake"],
                                      out["z_real"], out["z_fake"])


def fm_scores(E: nn.Module, G: nn.Module, Dxx: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(score_fm per image, G(E(x))) for images in [-1, 1] (modules in evaluation mode)."""
    rec = G(E(x))
    _, real = Dxx(x, x)
    _, fake = Dxx(x, rec)
    return feature_matching_score(real, fake), rec


class ValidationFM:
    """The early-stopping criterion: mean score_fm of held-out normal training images with the EMA weights (lower
    is better); never a labelled split."""

    name = "val-fm"
    higher_is_better = False

    def __init__(self, steps: ALADSteps, valid: ImageSet, config: ALADConfig, device: torch.device) -> None:
        self.steps, self.config = steps, config
        self.images = images_to_device(valid, device, size=config.image_size)

    def evaluate(self) -> float:
        e = self.steps.ema
        total, n = 0.0, len(self.images)
        for start in range(0, n, self.config.score_batch_size):
            x = to_unit_range(self.images[start:start + self.config.score_batch_size], self.config.channels)
            total += float(fm_scores(e["E_ema"], e["G_ema"], e["Dxx_ema"], x)[0].sum())
        return total / max(n, 1)


class EarlyStoppingLoop(GANLoop):
    """The shared loop, ending once more than `patience` evaluations passed without a new best (the code's
    `nb_without_improvements > PATIENCE`), also when resumed there."""

    def __init__(self, *args: Any, patience: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.patience = patience

    def should_stop(self) -> bool:
        best = self.tracker.best_iteration
        if best is None:
            return False
        return sum(1 for iteration, _ in self.tracker.history if iteration > best) > self.patience

    def stopped_early(self) -> bool:
        return self.should_stop() and self.iteration < self.settings.iterations


def model_size(config: ALADConfig, data: Any) -> int:
    return config.image_size


def build_networks(config: ALADConfig, size: int) -> tuple[Generators, Discriminators]:
    args = (size, config.channels, config.latent_dim, config.width_div)
    return Generators(*args), Discriminators(*args)


RECIPE = GANRecipe(label="ALAD", description="alad", set_keys=(D_BATCH, G_BATCH), unlabeled_needed="",
                   model_size=model_size, build_networks=build_networks,
                   build_generator=lambda config: Generators(config.image_size, config.channels, config.latent_dim,
                                                             config.width_div),
                   make_steps=ALADSteps,
                   scoring_pass=lambda EG, D, x: (D["xx"](x, x), D["xx"](x, EG["G"](EG["E"](x)))))
