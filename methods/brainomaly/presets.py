"""Brainomaly's hyperparameters: one frozen dataclass, four named presets (`--set key=value` overrides any field).

The `paper` preset is the authors' `main.py` defaults with `train.sh`'s overrides (mahfuzmohammad/Brainomaly).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from bench.core.config import Channels, ImageSize, PositiveFloat, PositiveInt
from bench.methods._gan.config import GANBaseConfig


@dataclasses.dataclass(frozen=True)
class BrainomalyConfig(GANBaseConfig):
    """Defaults are the authors' code: G 64 base channels / 6 residual blocks, D 64 (6 blocks), WGAN-GP lambda 10,
    identity weight 1, Adam 1e-4 (0.5, 0.999), two D steps per G step, batch 16, 400k iterations, 192 px, 3 channels.
    The networks, loss weights, Adam betas, logging and speed settings are `GANBaseConfig`'s (`lambda_rec` is unused:
    Brainomaly has no reconstruction loss)."""

    # Data as the networks see it. train.sh trains at 192 px (images resized by torchvision after a 5 px zero pad and
    # a centre crop); bench resizes the prepared images (the data set's size, 64 px on the Med-AD sets) to
    # `image_size` on the device (bilinear): prepare the data at 192 (`--set data.size=192`) to feed real 192 px
    # pixels, or set image_size=64 for the 64 x 64 at which SAGAN's paper ran every method. None: the data set's size.
    image_size: ImageSize | None = 192
    channels: Channels = 3  # the authors read every image as RGB; 1 is cheaper and the same function for grayscale
    hflip: bool = True  # RandomHorizontalFlip in the authors' training loader
    # Optimisation. The code "decays" the lr every 1000 iterations over the last 100k by lr0 / 100k: 0.1 % in all, a
    # constant lr in effect, so `paper` keeps it constant (`--set lr_decay=linear` decays to 0 over the last 100k).
    g_lr: PositiveFloat = 1e-4
    d_lr: PositiveFloat = 1e-4
    lr_decay_iters: PositiveInt = 100_000
    iterations: PositiveInt = 400_000  # D steps (one G step per n_critic of them)
    batch_size: PositiveInt = 16
    # Checkpoints (the code saves every 10k iterations) and selection: the paper's AUCp (bench: on held-out images).
    selection: Literal["aucp", "last", "val-auc", "val-auc-or-last", "fid"] = "aucp"
    checkpoint_every: PositiveInt = 10_000


PRESETS: dict[str, BrainomalyConfig] = {
    "paper": BrainomalyConfig(),
    # Minutes on one GPU: the paper's networks at 64 px and 1 channel, 20k iterations, AUCp selection every 2k,
    # He-init critic (see Critic), torch.compile of G.
    "fast": BrainomalyConfig(image_size=64, channels=1, iterations=20_000, batch_size=32, checkpoint_every=2_000,
                             log_every=50, compile=True, critic_init="he"),
}
# CPU-minutes (make demo, the learning check): narrow networks at 32 px, 1 channel, AUCp selection every 100 iterations.
# Departures from the paper: lr 2e-4, identity weight 10 (at 1 the translation did not learn in a run this short) and
# He-init critic (with PyTorch's init the small critic stays flat, see Critic: test AUC 0.612 against 0.774 with it,
# seed 0). Measurements: README.
PRESETS["smoke"] = BrainomalyConfig(image_size=32, channels=1, g_conv_dim=16, g_res_blocks=2, d_conv_dim=16,
                                    critic_init="he", lambda_id=10.0, iterations=600, batch_size=16, g_lr=2e-4,
                                    d_lr=2e-4, checkpoint_every=100, log_every=10, amp=False, channels_last=False)
# Seconds on a CPU (the contract checks of bench.testing: a fitted detector, not a good one): the smoke networks,
# losses and AUCp selection, 10 iterations with a checkpoint every 5.
PRESETS["tiny"] = dataclasses.replace(PRESETS["smoke"], iterations=10, checkpoint_every=5, log_every=5)
