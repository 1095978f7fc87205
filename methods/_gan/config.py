"""The settings HealthyGAN and SAGAN share, with the same defaults and ranges: one frozen dataclass that both
methods' configs inherit (each adds its data, loss-weight, schedule and selection fields)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from bench.core.config import Fraction, NonNegativeFloat, NonNegativeInt, PositiveInt

AccelMode = Literal["auto", "on", "off"]  # see bench.methods._gan.accel


class FinalWeightsProbe:
    """For configs without checkpoint selection (f-AnoGAN, ALOCC; ALAD overrides `selection`): what the shared cost
    probe (bench.methods._gan.probe) reads of a config that has no such fields."""

    @property
    def selection(self) -> str:
        return "last"  # the final weights are kept: nothing is scored at checkpoints

    @property
    def fid_holdout(self) -> int:
        return 0


@dataclasses.dataclass(frozen=True)
class GANBaseConfig:
    """Networks, WGAN-GP weights, Adam and the loop's shared settings; defaults are both papers' (the "What the paper
    specifies" sections of methods/healthygan/README.md and methods/sagan/README.md)."""

    # Networks: G's width and depth, the PatchGAN critic (HealthyGAN's D, which SAGAN uses unchanged).
    g_conv_dim: PositiveInt = 64
    g_res_blocks: NonNegativeInt = 6
    d_conv_dim: PositiveInt = 64
    d_repeat_num: PositiveInt | None = None  # None: 6, capped so the critic's output map stays >= 1 x 1
    critic_init: Literal["pytorch", "he"] = "pytorch"  # "he": see Critic; the public code keeps PyTorch's init
    # Losses (paper weights).
    lambda_gp: NonNegativeFloat = 10.0
    lambda_id: NonNegativeFloat = 1.0
    lambda_rec: NonNegativeFloat = 1.0
    # Optimisation. Both papers decay the lr, but both public codes' decays are negligible, so `paper` keeps it
    # constant, as the codes do in effect.
    n_critic: PositiveInt = 2  # D steps per G step
    beta1: Fraction = 0.5
    beta2: Fraction = 0.999
    lr_decay: Literal["none", "linear"] = "none"
    # Logging and FID selection.
    log_every: PositiveInt = 100
    # Held-out unlabeled and normal images each (at most a fifth of each set) for the label-free selections fid, aucp.
    fid_holdout: PositiveInt = 500
    fid_weights: Path | None = None  # pytorch-fid Inception weights; None: torch's hub cache (fetched once)
    # Speed. `accel`: auto = amp / channels_last / compile on CUDA only (CPU runs fp32 eager NCHW); on = on any
    # device (CPU: bf16 autocast and inductor); off = plain fp32 eager everywhere (the reference). Scoring is fp32.
    accel: AccelMode = "auto"
    amp: bool = True  # bf16 autocast in training
    channels_last: bool = True
    compile: bool = False  # torch.compile of G (the critic cannot be compiled: double backward in the GP)
    score_batch_size: PositiveInt = 64
