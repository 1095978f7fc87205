"""SAGAN's D and G steps, and its recipe for the shared GAN train driver (bench.methods._gan.trainer).

Batched where exactly equivalent: on iterations with a G step, G restores the unlabeled batch x_u, the normal
batch x_n and the pseudo-anomalies x_p in one pass (InstanceNorm is per-sample and the Bernoulli gate is
per-pixel), and the G step reuses that pass (G does not change between the two steps); the critic scores real
and fake in one pass (it has no batch statistics).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from bench.core.errors import BenchError
from bench.core.images import ImageSet
from bench.methods._gan import Accel, DeviceSampler, critic_loss_gp, to_unit_range
from bench.methods._gan.networks import Critic, build_critic
from bench.methods._gan.trainer import AdversarialSteps, GANRecipe, square_size
from bench.methods.sagan.losses import generator_loss
from bench.methods.sagan.networks import SAGANGenerator
from bench.methods.sagan.presets import SAGANConfig
from bench.methods.sagan.pseudo_anomaly import make_pseudo_anomalies, other_indices

UNLABELED, NORMAL = "U", "N"  # batch keys of the unlabeled and the normal set


class SAGANSteps(AdversarialSteps):
    """The D step (WGAN-GP on normals vs restored unlabeled images) and the G step (adversarial on x'_u,
    identity L1 on x'_n, squared restoration of the pseudo-anomalies x'_p towards x_n).

    Pseudo-anomalies take their patches from other images of the whole normal training set (the sampler's set,
    drawn with the sampler's seeded, checkpointed generator); their boxes and opacities come from torch's global
    RNG (checkpointed too)."""

    def __init__(self, generator: SAGANGenerator, critic: Critic, config: SAGANConfig, accel: Accel,
                 sampler: DeviceSampler | None = None) -> None:
        super().__init__(generator, critic, config, accel, sampler)
        if config.pseudo_anomalies and sampler is None:
            raise ValueError("SAGAN's pseudo-anomalies draw their sources from the normal training set: "
                             "pass the batch sampler")

    def _pseudo_anomalies(self, normal: torch.Tensor) -> torch.Tensor:
        """x_p for the batch's normals, each with a patch of another image of the normal training set."""
        pool = self.sampler.sets[NORMAL]
        index = other_indices(self.sampler.last_indices[NORMAL], len(pool), self.sampler.generator)
        sources = to_unit_range(pool.index_select(0, index), self.config.channels)
        return make_pseudo_anomalies(normal, sources=self.accel.images(sources)).images

    def _restore_all(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """G on cat(x_u, x_n[, x_p]) in one pass, with gradients."""
        parts = [batch[UNLABELED], batch[NORMAL]]
        if self.config.pseudo_anomalies:
            parts.append(self._pseudo_anomalies(batch[NORMAL]))
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
        kept = self.take_kept()
        restored = kept if kept is not None else self._restore_all(batch)
        n_u, n_n = batch[UNLABELED].shape[0], normal.shape[0]
        restored_unlabeled, restored_normal = restored[:n_u], restored[n_u:n_u + n_n]
        restored_pseudo = restored[n_u + n_n:] if c.pseudo_anomalies else None
        total, parts = generator_loss(self.D(restored_unlabeled), restored_normal, normal, restored_pseudo,
                                      c.lambda_id, c.lambda_rec)
        return {"loss": total, **parts}


def model_size(config: SAGANConfig, data: ImageSet) -> int:
    """The side length the networks work at (square, divisible by 8 * N with ACM)."""
    size = square_size(config, data, "SAGAN")
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
    """G, and the PatchGAN critic HealthyGAN introduced, for `size` px images."""
    critic = build_critic(config, size)
    return build_generator(config), critic


RECIPE = GANRecipe(label="SAGAN", description="sagan", set_keys=(UNLABELED, NORMAL),
                   unlabeled_needed="an unlabeled training set besides the normal one",
                   model_size=model_size, build_networks=build_networks, build_generator=build_generator,
                   make_steps=SAGANSteps)
