"""f-AnoGAN's hyperparameters: one frozen dataclass and the presets paper, fast, smoke, tiny."""

from __future__ import annotations

import dataclasses
from typing import Literal

from bench.core.config import Channels, Fraction, ImageSize, NonNegativeFloat, PositiveFloat, PositiveInt
from bench.methods._gan.config import FinalWeightsProbe

AccelMode = Literal["auto", "on", "off"]


@dataclasses.dataclass(frozen=True)
class FAnoGANConfig(FinalWeightsProbe):  # final weights kept: the official code has no selection
    """Defaults are tSchlegl/f-AnoGAN's (wgangp_64x64.py, z_encoding_izif.py)."""

    # Data as the networks see it: 64 px, 1 channel, the official (only) input; any power of two >= 8 scales the
    # networks by one stride-2 stage per doubling (networks.py).
    image_size: ImageSize = 64
    channels: Channels = 1
    hflip: bool = False  # the official loader does not augment
    # Networks.
    dim: PositiveInt = 64  # DIM
    latent_dim: PositiveInt = 128  # ZDIM; z ~ N(0, 1) (RAND_SAMPLING 'normal')
    # Stage 1: WGAN-GP.
    n_critic: PositiveInt = 5  # CRITIC_ITERS
    lambda_gp: NonNegativeFloat = 10.0
    lr: PositiveFloat = 1e-4
    beta1: Fraction = 0.0
    beta2: Fraction = 0.9
    batch_size: PositiveInt = 64
    epochs: PositiveInt = 7  # TRAIN_EPOCHS: stage 1 runs epochs x (N // batch - n_critic) critic steps ...
    iterations: PositiveInt | None = None  # ... unless set here (critic steps)
    # Stage 2: the izi_f encoder, G and D frozen.
    encoder_iterations: PositiveInt = 50_000  # ITERS_ENC
    encoder_lr: PositiveFloat = 5e-5  # RMSProp, as the official code (decay 0.9)
    kappa: NonNegativeFloat = 1.0
    # Loop.
    checkpoint_every: PositiveInt = 1000
    log_every: PositiveInt = 100
    # Speed (bench.methods._gan.accel): auto = bf16 / channels_last / compile on CUDA only.
    accel: AccelMode = "auto"
    amp: bool = True
    channels_last: bool = True
    compile: bool = False  # torch.compile of G (the critic cannot be compiled: double backward in the GP)
    score_batch_size: PositiveInt = 64

    def stage1_iterations(self, n_normal: int) -> int:
        """Critic steps of stage 1: `iterations`, or the official epochs x (N // batch - n_critic)."""
        if self.iterations is not None:
            return self.iterations
        return max(self.n_critic, self.epochs * (n_normal // self.batch_size - self.n_critic))


PRESETS: dict[str, FAnoGANConfig] = {
    "paper": FAnoGANConfig(),
    # Minutes on one GPU: the official networks at 64 px, 20k critic steps, 10k encoder steps.
    "fast": FAnoGANConfig(iterations=20_000, encoder_iterations=10_000, log_every=50, compile=True),
    # CPU-minutes (the learning check, about 66 CPU-s): the official networks' layer list at 16 px (two ResBlocks per
    # network), dim 16, latent 32, batch 16, 600 critic + 600 encoder steps. Departures: stage-1 lr 2e-4, encoder lr
    # 1e-3 (at 5e-5 the encoder barely moves in a few hundred steps). Measured on the learning split (seed 0): AUC
    # 0.658; at 32 px / dim 8 / 300 + 200 steps 0.591, at 16 px / dim 8 / 500 + 500 steps 0.603.
    "smoke": FAnoGANConfig(image_size=16, dim=16, latent_dim=32, batch_size=16, iterations=600, lr=2e-4,
                           encoder_iterations=600, encoder_lr=1e-3, checkpoint_every=100, log_every=20,
                           amp=False, channels_last=False),
}
# Seconds on a CPU (the contract checks): dim 8 at 16 px, 10 critic steps and 6 encoder steps.
PRESETS["tiny"] = dataclasses.replace(PRESETS["smoke"], dim=8, iterations=10, encoder_iterations=6,
                                      checkpoint_every=5, log_every=5, batch_size=8)
