"""Brainomaly's D and G steps, and its recipe for the shared GAN train driver (bench.methods._gan.trainer).

The authors' step (`solver.py`): D: WGAN-GP between known healthy B (real) and tanh(x_A + G(x_A)) (fake); every
n_critic-th iteration G: -mean D(tanh(x_A + G(x_A))) + lambda_id mean |x_B - tanh(x_B + G(x_B))|. Batched where
exactly equivalent: G runs on A and B in one pass (InstanceNorm is per-sample), the critic scores real and fake in
one pass (no batch statistics), and on iterations with a G step the D step's generator pass (with gradients) is
reused by the G step (G does not change in between; the authors run G on A again).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from bench.core.images import ImageSet
from bench.methods._gan import critic_loss_gp
from bench.methods._gan.networks import Critic, build_critic
from bench.methods._gan.trainer import AdversarialSteps, GANRecipe, square_size
from bench.methods.brainomaly.losses import generator_loss
from bench.methods.brainomaly.networks import Generator, translate
from bench.methods.brainomaly.presets import BrainomalyConfig

MIXED, HEALTHY = "A", "B"  # batch keys of the mixed (unlabeled) and the healthy (normal) set


class BrainomalySteps(AdversarialSteps):
    """The D step (WGAN-GP on healthy B vs translated A) and the G step (adversarial term on translated A,
    identity on translated B)."""

    def d_step(self, batch: Mapping[str, torch.Tensor], *, g_step_follows: bool) -> dict[str, torch.Tensor]:
        mixed, healthy = batch[MIXED], batch[HEALTHY]
        both = torch.cat([mixed, healthy])
        if g_step_follows:
            translated = translate(both, self.G_train(both))
            self._kept = translated
            fake = translated[:mixed.shape[0]]
        else:
            with torch.no_grad():
                fake = translate(mixed, self.G_train(mixed))
        return critic_loss_gp(self.D, real=healthy, fake=fake, lambda_gp=self.config.lambda_gp)

    def g_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        mixed, healthy = batch[MIXED], batch[HEALTHY]
        n = mixed.shape[0]
        translated = self.take_kept()
        if translated is None:
            both = torch.cat([mixed, healthy])
            translated = translate(both, self.G_train(both))
        total, parts = generator_loss(self.D(translated[:n]), healthy, translated[n:], self.config.lambda_id)
        return {"loss": total, **parts}


def model_size(config: BrainomalyConfig, data: ImageSet) -> int:
    """The side length the networks work at (square images)."""
    return square_size(config, data, "Brainomaly")


def build_generator(config: BrainomalyConfig) -> Generator:
    """G as configured (also used to rebuild a saved detector)."""
    return Generator(config.channels, config.g_conv_dim, config.g_res_blocks)


def build_networks(config: BrainomalyConfig, size: int) -> tuple[Generator, Critic]:
    """G and the PatchGAN critic for `size` px images."""
    return build_generator(config), build_critic(config, size)


RECIPE = GANRecipe(label="Brainomaly", description="brainomaly", set_keys=(MIXED, HEALTHY),
                   unlabeled_needed="an unlabeled (mixed) training set besides the healthy one",
                   model_size=model_size, build_networks=build_networks, build_generator=build_generator,
                   make_steps=BrainomalySteps)
