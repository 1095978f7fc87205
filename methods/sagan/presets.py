"""SAGAN's hyperparameters: one frozen dataclass, three named presets (`--set key=value` overrides any field).

Ablations of the paper's Table 3 are switches: `acm=false` (whole images, no positional codes), `arrm=false`
(no attention gates, skips or fusion: a plain decoder), both false (bench's own ablation; the paper's baseline is
Brainomaly, the `brainomaly` method), `pseudo_anomalies=false` (no FPI term). Table 4's anomaly ratio is a data-set
key: `--set data.anomaly_ratio=...`.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from bench.core.config import Channels, Fraction, ImageSize, PositiveFloat, PositiveInt
from bench.methods._gan.config import GANBaseConfig


@dataclasses.dataclass(frozen=True)
class SAGANConfig(GANBaseConfig):
    """Defaults are the paper's (methods/sagan/README.md, "What the paper specifies"): 64 x 64, 1 channel, N = 2,
    lr 5e-5, batch 64, 100k iterations. The networks' widths (g_conv_dim 64 gives G 44.8M parameters; the paper:
    about 45M), the WGAN-GP, identity and restoration weights, Adam betas, logging and speed settings are
    `GANBaseConfig`'s."""

    # Data as the networks see it.
    image_size: ImageSize | None = 64  # None: the data set's protocol size; else resized on the device
    channels: Channels = 1
    hflip: bool = False  # the paper names no augmentation for SAGAN; a flip would also swap patch positions
    # Generator: ACM, ARRM, Bernoulli-gated output. The fusion enlarges decoder stage 1 in two x2 ConvTranspose +
    # IN + ReLU steps, as the authors' code does (it used one x4 step before, with 0.39M more parameters).
    n_patches: PositiveInt = 2  # N: N x N patches per image
    acm: bool = True  # anatomical consistency: patches + positional codes
    arrm: bool = True  # abnormal region restoration: attention-gated decoder + multi-level fusion
    keep_prob: Fraction = 0.95  # Bernoulli keep probability of delta in training
    gate_at_test: bool = False  # True: keep the Bernoulli gate at test as the public code does (random scores)
    # Pseudo-anomalies (paper Eq. 3-6; lambda_rec weighs their restoration). A pseudo-anomaly's patch comes from
    # another image of the whole normal training set, as in the authors' code (bench took it from another image
    # of the same batch before).
    pseudo_anomalies: bool = True
    # Optimisation. The paper decays the lr "every 1000 iterations", but the public code's decay is negligible,
    # so `paper` keeps it constant (lr_decay=none), as the code does in effect.
    g_lr: PositiveFloat = 5e-5
    d_lr: PositiveFloat = 5e-5
    lr_decay_iters: PositiveInt = 50_000
    iterations: PositiveInt = 100_000  # D steps (one G step per n_critic of them)
    batch_size: PositiveInt = 64  # the paper's; the public training script used 32
    # Checkpoints and selection. Never the test split (the authors' code selected on it).
    selection: Literal["last", "val-auc", "val-auc-or-last", "fid", "aucp"] = "last"
    checkpoint_every: PositiveInt = 5_000


PRESETS: dict[str, SAGANConfig] = {
    "paper": SAGANConfig(),
    # Minutes on one GPU: the paper's networks and batch, 10k iterations, final weights; He-init critic (see Critic).
    "fast": SAGANConfig(iterations=10_000, checkpoint_every=2_000, log_every=50, compile=True, critic_init="he"),
    # CPU-minutes (make demo, the learning check): narrow networks (G 0.41M parameters) and 2 residual blocks at
    # 32 px (16 x 16 patches); the architecture (ACM, ARRM, gating, pseudo-anomalies) is intact. Departures from the
    # paper: identity and pseudo-anomaly weights 10 (at 1 the restoration does not learn in a run this short), lr
    # 1e-4 decayed linearly over the last half, and validation-AUC selection every 100 iterations (short runs peak
    # and fall back). Measurements: README and tests/conformance/learning_floors.toml.
    "smoke": SAGANConfig(image_size=32, g_conv_dim=8, g_res_blocks=2, d_conv_dim=8, lambda_id=10.0,
                         lambda_rec=10.0, iterations=600, batch_size=16, g_lr=1e-4, d_lr=1e-4, lr_decay="linear",
                         lr_decay_iters=300, selection="val-auc-or-last", checkpoint_every=100, log_every=10,
                         amp=False, channels_last=False),
}
# Seconds on a CPU (the contract checks of bench.testing: a fitted detector, not a good one): the smoke networks,
# losses, lr decay and selection path, 10 iterations with a checkpoint every 5.
PRESETS["tiny"] = dataclasses.replace(PRESETS["smoke"], iterations=10, lr_decay_iters=5, checkpoint_every=5,
                                      log_every=5)
