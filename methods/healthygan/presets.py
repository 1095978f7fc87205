"""HealthyGAN's hyperparameters: one frozen dataclass, three named presets (`--set key=value` overrides any
field)."""

from __future__ import annotations

import dataclasses
from typing import Literal

from bench.core.config import Channels, ImageSize, NonNegativeFloat, PositiveFloat, PositiveInt
from bench.methods._gan.config import GANBaseConfig


@dataclasses.dataclass(frozen=True)
class HealthyGANConfig(GANBaseConfig):
    """Defaults are the paper's (methods/healthygan/README.md, "What the paper specifies"); the `fast` and `smoke`
    presets shrink them. The networks, WGAN-GP and identity / reconstruction weights, Adam betas, logging and speed
    settings are `GANBaseConfig`'s."""

    # Data as the networks see it.
    image_size: ImageSize | None = None  # None: the data set's protocol size; else resized on the device
    channels: Channels = 3  # the authors feed grayscale as RGB; 1 is cheaper and fine for radiographs
    hflip: bool = True  # random horizontal flip in training, as the public code
    # The mask's focus loss (paper weights).
    lambda_mask: NonNegativeFloat = 0.1
    lambda_small: NonNegativeFloat = 1.0
    lambda_zeroone: NonNegativeFloat = 1.0
    # Optimisation. The paper decays the lr over the last 100k iterations, but the public code's decay is so
    # small that the lr is constant in effect; `paper` follows the code (lr_decay=none).
    g_lr: PositiveFloat = 1e-4
    d_lr: PositiveFloat = 1e-4
    lr_decay_iters: PositiveInt = 100_000
    iterations: PositiveInt = 400_000  # D steps (one G step per n_critic of them)
    batch_size: PositiveInt | None = None  # None: the data set's paper batch (PAPER_BATCH_SIZES), resolved per run
    # Checkpoints and selection.
    selection: Literal["fid", "last", "val-auc", "val-auc-or-last", "aucp"] = "fid"
    checkpoint_every: PositiveInt = 10_000


# The paper's batch per data set: 16 at 256 px on COVIDx, 32 at 128 px on ChestX-ray14; data sets the paper did not
# use get 16, the batch of its main (COVIDx) setting. A run records the resolved value in its config. (The `paper`
# preset used 16 on every data set before, ChestX-ray14 included.)
PAPER_BATCH_SIZES: dict[str, int] = {"covidx": 16, "chestxray14": 32}
OTHER_BATCH_SIZE = 16


def with_dataset_batch(config: HealthyGANConfig, dataset: str | None) -> HealthyGANConfig:
    """`config` with batch_size=None resolved to `dataset`'s batch in the paper (16 for other or unknown sets)."""
    if config.batch_size is not None:
        return config
    return dataclasses.replace(config, batch_size=PAPER_BATCH_SIZES.get(dataset or "", OTHER_BATCH_SIZE))


PRESETS: dict[str, HealthyGANConfig] = {
    "paper": HealthyGANConfig(),
    # Minutes on one GPU: the paper's networks at 64 px and 1 channel, 20k iterations, final weights, He-init
    # critic (see Critic).
    "fast": HealthyGANConfig(image_size=64, channels=1, iterations=20_000, batch_size=32, selection="last",
                             checkpoint_every=2_000, log_every=50, compile=True, critic_init="he"),
    # CPU-minutes (make demo, the learning check): narrow networks at 32 px. Departures from the paper: identity and
    # reconstruction weights 10 (Fixed-Point GAN's; at 1 the mask saturates in a run this short) and validation-AUC
    # selection every 100 iterations (short runs peak and fall back, so the last weights are a lottery).
    "smoke": HealthyGANConfig(image_size=32, channels=1, g_conv_dim=16, g_res_blocks=2, d_conv_dim=16,
                              lambda_id=10.0, lambda_rec=10.0, iterations=600, batch_size=16, g_lr=2e-4,
                              d_lr=2e-4, selection="val-auc-or-last", checkpoint_every=100, log_every=10, amp=False,
                              channels_last=False),
}
# Seconds on a CPU (the contract checks of bench.testing: a fitted detector, not a good one): the smoke networks,
# losses and selection path, 10 iterations with a checkpoint every 5.
PRESETS["tiny"] = dataclasses.replace(PRESETS["smoke"], iterations=10, checkpoint_every=5, log_every=5)
