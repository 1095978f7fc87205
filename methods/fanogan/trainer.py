"""f-AnoGAN's two training stages on the shared GAN loop (bench.methods._gan.loop), both resumable:

1. `WGANSteps`: WGAN-GP on the normal images (n_critic critic steps per G step, z ~ N(0, 1)).
2. `EncoderSteps`: the izi_f encoder with G (BatchNorm in inference mode) and D frozen, RMSProp. The loop drives
   one optimiser here: the encoder's update is the loop's D step and its G step never runs (n_critic beyond the
   stage's length).
Each stage keeps its own folder (stage1/, stage2/) with checkpoints and losses.csv; stage 2 starts from the
finished stage 1 and its resume identity includes stage 1's.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.core.config import config_to_dict
from bench.core.progress import Progress
from bench.methods._gan import Accel, DeviceSampler, GANLoop, LoopSettings, critic_loss_gp, fingerprint
from bench.methods._gan.loop import TrainResult
from bench.methods._gan.trainer import GANRecipe
from bench.methods.fanogan.losses import izif_loss
from bench.methods.fanogan.networks import Critic, Encoder, Generator, stages
from bench.methods.fanogan.presets import FAnoGANConfig

NORMAL = "N"  # batch key of the normal set (the probe's sampler adds a second set the steps ignore)


class WGANSteps:
    """Stage 1: the critic's WGAN-GP loss on real normals vs G(z), and G's -mean D(G(z))."""

    best_modules = ("G", "D")

    def __init__(self, generator: Generator, critic: Critic, config: FAnoGANConfig, accel: Accel,
                 sampler: DeviceSampler | None = None) -> None:
        self.G, self.D, self.config = generator, critic, config
        self.G_train = accel.maybe_compile(generator)
        self.modules = {"G": generator, "D": critic}
        betas = (config.beta1, config.beta2)
        self.optimizers = {"G": torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas),
                           "D": torch.optim.Adam(critic.parameters(), lr=config.lr, betas=betas)}

    def _noise(self, batch: torch.Tensor) -> torch.Tensor:
        return torch.randn(batch.shape[0], self.config.latent_dim, device=batch.device)

    def d_step(self, batch: Mapping[str, torch.Tensor], *, g_step_follows: bool) -> dict[str, torch.Tensor]:
        real = batch[NORMAL]
        with torch.no_grad():
            fake = self.G_train(self._noise(real))
        return critic_loss_gp(self.D, real=real, fake=fake, lambda_gp=self.config.lambda_gp)

    def g_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        adversarial = -self.D(self.G_train(self._noise(batch[NORMAL]))).float().mean()
        return {"loss": adversarial}


class EncoderSteps:
    """Stage 2: E minimises the izi_f loss; G and D are fixed (no gradients, evaluation mode)."""

    best_modules = ("E",)

    def __init__(self, encoder: Encoder, generator: Generator, critic: Critic, config: FAnoGANConfig) -> None:
        self.E, self.G, self.D, self.kappa = encoder, generator, critic, config.kappa
        for module in (generator, critic):
            module.eval().requires_grad_(False)
        self.modules = {"E": encoder, "G": generator, "D": critic}
        # tf.train.RMSPropOptimizer(lr): decay 0.9, momentum 0, epsilon 1e-10.
        optimizer = torch.optim.RMSprop(encoder.parameters(), lr=config.encoder_lr, alpha=0.9, eps=1e-10)
        self.optimizers = {"D": optimizer, "G": optimizer}

    def d_step(self, batch: Mapping[str, torch.Tensor], *, g_step_follows: bool) -> dict[str, torch.Tensor]:
        x = batch[NORMAL]
        x_rec = self.G(self.E(x))
        with torch.no_grad():
            f_x = self.D.features(x)
        total, image, feature = izif_loss(x, x_rec, f_x, self.D.features(x_rec), self.kappa)
        return {"loss": total, "img": image.detach(), "feat": feature.detach()}

    def g_step(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        raise AssertionError("stage 2 has no G step")


def model_size(config: FAnoGANConfig, data: Any) -> int:
    """The configured side (a power of two >= 8), checked against the networks' scaling rule."""
    stages(config.image_size)
    return config.image_size


def build_networks(config: FAnoGANConfig, size: int) -> tuple[Generator, Critic]:
    return (Generator(size, config.dim, config.latent_dim, config.channels),
            Critic(size, config.dim, config.channels))


def build_encoder(config: FAnoGANConfig, size: int) -> Encoder:
    return Encoder(size, config.dim, config.latent_dim, config.channels)


# For the shared cost probe (stage 1's steps; stage 2 is scaled from it in the detector's probe).
def scoring_pass(G: nn.Module, D: nn.Module, x: torch.Tensor) -> object:
    """The work of scoring `x` as the dry run times it: x -> E -> G -> D features of x and of G(E(x)); E costs
    about what the critic's convolutions cost, so D's forward stands in for it (the probe has no encoder)."""
    D.features(x)  # stands in for E(x)
    z = torch.randn(len(x), G.input.in_features, device=x.device)
    return D.features(x), D.features(G(z))


RECIPE = GANRecipe(label="f-AnoGAN", description="fanogan", set_keys=(NORMAL, "unused"), unlabeled_needed="",
                   model_size=model_size, build_networks=build_networks,
                   build_generator=lambda config: Generator(config.image_size, config.dim, config.latent_dim,
                                                            config.channels),
                   make_steps=WGANSteps, scoring_pass=scoring_pass)


@dataclasses.dataclass
class Stages:
    """What both stages did (for run.json)."""

    stage1: TrainResult
    stage2: TrainResult

    def info(self) -> dict[str, Any]:
        return {"stage1_wgan_gp": self.stage1.info(), "stage2_encoder_izif": self.stage2.info()}


def train_two_stages(G: Generator, D: Critic, E: Encoder, normal: torch.Tensor, *, config: FAnoGANConfig,
                     seed: int, accel: Accel, workdir: Path | None, progress: Progress, data_id: str,
                     stage1_iterations: int) -> Stages:
    """Stage 1 then stage 2 on `normal` (uint8 on the device), each resuming from its folder under `workdir`."""
    identity = fingerprint(config_to_dict(config), seed, config.image_size, data_id, stage1_iterations)
    for module in (G, D, E):
        accel.prepare(module).train()
    sampler = DeviceSampler({NORMAL: normal}, config.batch_size, seed=seed, channels=config.channels,
                            hflip=config.hflip)
    first = GANLoop(WGANSteps(G, D, config, accel), sampler,
                    LoopSettings(iterations=stage1_iterations, n_critic=config.n_critic,
                                 checkpoint_every=config.checkpoint_every, log_every=config.log_every,
                                 description="fanogan stage 1 (WGAN-GP)"),
                    accel=accel, folder=_sub(workdir, "stage1"), identity=identity, progress=progress)
    stage1 = first.run()
    sampler = DeviceSampler({NORMAL: normal}, config.batch_size, seed=seed + 1, channels=config.channels,
                            hflip=config.hflip)
    second = GANLoop(EncoderSteps(E, G, D, config), sampler,
                     LoopSettings(iterations=config.encoder_iterations, n_critic=config.encoder_iterations + 1,
                                  checkpoint_every=config.checkpoint_every, log_every=config.log_every,
                                  description="fanogan stage 2 (izi_f encoder)"),
                     accel=accel, folder=_sub(workdir, "stage2"), identity=fingerprint(identity, "stage2"),
                     progress=progress)
    return Stages(stage1, second.run())


def _sub(workdir: Path | None, name: str) -> Path | None:
    return None if workdir is None else Path(workdir) / name


def frozen(*modules: nn.Module) -> None:
    """Evaluation mode and no gradients (inference)."""
    for module in modules:
        module.eval().requires_grad_(False)
