"""ALOCC's hyperparameters: one frozen dataclass and the presets paper, fast, smoke, tiny."""

from __future__ import annotations

import dataclasses
from typing import Literal

from bench.core.config import Channels, Fraction, ImageSize, NonNegativeFloat, PositiveFloat, PositiveInt
from bench.methods._gan.config import FinalWeightsProbe

AccelMode = Literal["auto", "on", "off"]


@dataclasses.dataclass(frozen=True)
class ALOCCConfig(FinalWeightsProbe):
    """Defaults are khalooei/ALOCC-CVPR2018's (train.py, models.py)."""

    # Data: trained at 64 px with the official layer list (its 'SAME' strided convolutions take any side).
    image_size: ImageSize = 64
    channels: Channels = 1
    hflip: bool = False
    gf_dim: PositiveInt = 16
    df_dim: PositiveInt = 16
    noise_sigma: NonNegativeFloat = 0.155
    r_alpha: NonNegativeFloat = 0.2
    refinement: Literal["code", "paper"] = "code"  # code: sigmoid CE against the noisy input; paper: MSE to x
    lr: PositiveFloat = 0.002  # RMSProp (TF: decay 0.9, epsilon 1e-10), D and R
    batch_size: PositiveInt = 128
    g_updates: PositiveInt = 2  # R updates per D update, on the same noisy batch
    epochs: PositiveInt = 40  # D steps: epochs x (N // batch) ...
    iterations: PositiveInt | None = None  # ... unless set here
    # Score: the paper's 1 - D(R(x)) ('d_r_x') or the code's 1 - D(x) ('d_x').
    score: Literal["d_r_x", "d_x"] = "d_r_x"
    # bench's option, not the code's: score with EMA copies of R and D (None: the final weights, as the code).
    ema_decay: Fraction | None = None
    checkpoint_every: PositiveInt = 1000
    log_every: PositiveInt = 100
    accel: AccelMode = "auto"
    amp: bool = True
    channels_last: bool = True
    compile: bool = False  # torch.compile of R
    score_batch_size: PositiveInt = 64

    # For the shared cost probe: one D step per loop iteration; ALOCC keeps its final weights.
    @property
    def n_critic(self) -> int:
        return 1

    def total_iterations(self, n_normal: int) -> int:
        """D steps: `iterations`, or the official epochs x (N // batch) (at least one)."""
        if self.iterations is not None:
            return self.iterations
        return max(1, self.epochs * (n_normal // self.batch_size))


PRESETS: dict[str, ALOCCConfig] = {
    "paper": ALOCCConfig(),
    # Minutes on one GPU: the official networks at 64 px, 10k D steps (20k R steps).
    "fast": ALOCCConfig(iterations=10_000, log_every=50, compile=True),
    # CPU-minutes (the learning check, about 85 CPU-s): the official networks at 32 px, batch 64, 400 D steps,
    # RMSProp lr 2e-4, the code's score 1 - D(x) with EMA (0.99) weights. Measured on the learning split, AUC: 0.653
    # and 0.670 (seeds 0, 1). At lr 0.002 (the code's) D collapses to 0.5 on every image within ~100 steps
    # (0.566); 1 - D(R(x)) and the final weights swing between checkpoints (0.45-0.69). README.md has the table.
    "smoke": ALOCCConfig(image_size=32, batch_size=64, iterations=400, lr=2e-4, score="d_x", ema_decay=0.99,
                         checkpoint_every=100, log_every=20, amp=False, channels_last=False),
}
# Seconds on a CPU (the contract checks).
PRESETS["tiny"] = dataclasses.replace(PRESETS["smoke"], image_size=16, batch_size=8, iterations=6,
                                      checkpoint_every=3, log_every=3)
