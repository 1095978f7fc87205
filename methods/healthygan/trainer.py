"""HealthyGAN's D and G steps, and its recipe for the shared GAN train driver (bench.methods._gan.trainer).

Batched where exactly equivalent: G runs on the mixed batch A and the healthy batch B in one pass
(InstanceNorm is per-sample); the critic scores real and fake in one pass (it has no batch statistics); on
iterations with a G step, the D step's generator pass (with gradients) is reused by the G step (G does not
change in between).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from bench.core.images import ImageSet
from bench.methods._gan import critic_loss_gp
from bench.methods._gan.networks import Critic, build_critic
from bench.methods._gan.trainer import AdversarialSteps, GANRecipe, square_size
from bench.methods.healthygan.losses import compose, focus_loss, l1, mask_inverse
from bench.methods.healthygan.networks import Generator
from bench.methods.healthygan.presets import HealthyGANConfig

MIXED, HEALTHY = "A", "B"  # batch keys of the mixed (unlabeled) and the healthy (normal) set


class HealthyGANSteps(AdversarialSteps):
    """The D step (WGAN-GP on healthy B vs translated A) and the G step (two adversarial terms, identity on
    the raw image of G(B), mask-inverse reconstruction of A, focus loss on both masks)."""

    def d_step(self, batch: Mapping[str, torch.Tensor], *, g_step_follows: bool) -> dict[str, torch.Tensor]:
        mixed, healthy = batch[MIXED], batch[HEALTHY]
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
        mixed, healthy = batch[MIXED], batch[HEALTHY]
        n = mixed.shape[0]
        kept = self.take_kept()
        image, mask = kept if kept is not None else self.G_train(torch.cat([mixed, healthy]))
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
    return square_size(config, data, "HealthyGAN")


def build_generator(config: HealthyGANConfig) -> Generator:
    """G as configured (also used to rebuild a saved detector)."""
    return Generator(config.channels, config.g_conv_dim, config.g_res_blocks)


def build_networks(config: HealthyGANConfig, size: int) -> tuple[Generator, Critic]:
    """G and the PatchGAN critic for `size` px images."""
    return build_generator(config), build_critic(config, size)


RECIPE = GANRecipe(label="HealthyGAN", description="healthygan", set_keys=(MIXED, HEALTHY),
                   unlabeled_needed="an unlabeled (mixed) training set besides the healthy one",
                   model_size=model_size, build_networks=build_networks, build_generator=build_generator,
                   make_steps=HealthyGANSteps)
