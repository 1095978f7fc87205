"""DDAD's hyperparameters: one frozen dataclass, four named presets (`--set key=value` overrides any field).

`paper` is the authors' configuration files (cfgs/RSNA_AE.yaml and siblings; the same for every data set):
64 px grayscale, latent 16, multiplier 1, Adam 5e-4 with betas (0.5, 0.999), batch 64 with the last partial batch
dropped, 250 epochs per autoencoder; the ASR-Net: Adam 1e-4 (weight decay 1e-4), batch 8, 100 epochs. MemAE: a
memory of 25, no shrinkage, entropy weight 2e-4. Backbones and scores are switches: `backbone=ae|ae-u|memae`,
`score=rec|intra|inter|r-dual|r-intra` (the refined scores train the ASR-Net; the others do not need it).
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Literal

from bench.core.config import Fraction, ImageSize, NonNegativeFloat, PositiveFloat, PositiveInt, Range
from bench.methods._gan.config import AccelMode

EnsembleSize = Annotated[int, Range(2)]  # an unbiased std over the K outputs needs K >= 2


@dataclasses.dataclass(frozen=True)
class DDADConfig:
    """Defaults are the authors' cfgs (see the module docstring); `score` defaults to R_dual, the score of the
    DDAD rows that SAGAN's Table 2 reports (AE backbone)."""

    backbone: Literal["ae", "ae-u", "memae"] = "ae"
    score: Literal["rec", "intra", "inter", "r-dual", "r-intra"] = "r-dual"
    n_networks: EnsembleSize = 3  # K per module: K on normals (NDM) and K on normals + unlabeled (UDM)
    # Networks.
    image_size: ImageSize = 64  # must be divisible by 16
    latent_size: PositiveInt = 16
    multiplier: PositiveFloat = 1.0  # the widths 16 / 32 / 64 / 64 times this
    mem_dim: PositiveInt = 25  # MemAE only
    shrink_threshold: NonNegativeFloat = 0.0  # MemAE only
    entropy_weight: NonNegativeFloat = 2e-4  # MemAE only
    # The autoencoders (each of the 2K is trained alone, as the authors' scripts run them one by one).
    epochs: PositiveInt = 250
    batch_size: PositiveInt = 64
    lr: PositiveFloat = 5e-4
    beta1: Fraction = 0.5
    beta2: Fraction = 0.999
    weight_decay: NonNegativeFloat = 0.0
    # The ASR-Net, trained with the autoencoders frozen on synthetic patch anomalies made from the normals.
    asr_epochs: PositiveInt = 100
    asr_batch_size: PositiveInt = 8
    asr_lr: PositiveFloat = 1e-4
    asr_weight_decay: NonNegativeFloat = 1e-4
    asr_channels: PositiveInt = 128
    anomaly_probability: Fraction = 0.5
    # Checkpoints (epochs of the network being trained) and the loss log (a row per epoch). Selection: none, the
    # final epoch of every network (the authors' refinement trainer reported a best-of-test AUC).
    checkpoint_every: PositiveInt = 10
    # Speed, as the GANs' (bench.methods._gan.accel): auto = bf16 autocast and channels_last on CUDA only; on = on
    # any device; off = fp32 eager everywhere. Scoring is fp32.
    accel: AccelMode = "auto"
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    score_batch_size: PositiveInt = 64


PRESETS: dict[str, DDADConfig] = {
    "paper": DDADConfig(),
    # Minutes on one GPU: the paper's networks, batch and schedule shape, 50 AE epochs and 20 ASR epochs.
    "fast": DDADConfig(epochs=50, asr_epochs=20, checkpoint_every=10, compile=True),
    # CPU-minutes (make demo, the learning check): half-width networks at 32 px, batch 16, 16 epochs at lr 2e-3 (at
    # the paper's 5e-4 the autoencoders learn too little in a run this short), and the inter-discrepancy |mu_A -
    # mu_B| as the score: DDAD's dual-distribution score without the ASR-Net, whose refinement needs far more
    # training than a CPU-minute (R_dual measured AUC 0.34-0.54 here). `--set score=r-dual` trains it (2 epochs).
    # Measured on the learning split: README and tests/conformance/learning_floors.toml.
    "smoke": DDADConfig(score="inter", image_size=32, multiplier=0.5, batch_size=16, epochs=16, lr=2e-3,
                        asr_epochs=2, asr_batch_size=16, asr_channels=32, checkpoint_every=4, amp=False,
                        channels_last=False),
}
# Seconds on a CPU (the contract checks: a fitted detector, not a good one): the smoke networks at batch 64 (one step
# per epoch on the contract's tiny set), 2 epochs, the ASR-Net and R_dual (1 epoch), a checkpoint every epoch.
PRESETS["tiny"] = dataclasses.replace(PRESETS["smoke"], score="r-dual", batch_size=64, epochs=2, asr_epochs=1,
                                      asr_batch_size=32, checkpoint_every=1)
