"""The family's settings: one frozen dataclass shared by the four tasks, and the four presets.

`paper` is the official code's (train_chest_xray.py): 224 px, batch 64, Adam 1e-3 with per-epoch cosine decay to
1e-6, BCE, the official epochs per data set (`epochs=None` resolves per run, see `epochs_for`). SAGAN's text says
every method ran at 64 x 64: `--set image_size=64` gives that; run.json records which (`resolution`).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from bench.core.config import Fraction, ImageSize, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt
from bench.methods.synthetic_anomaly.synthesis import PatchSettings

AccelMode = Literal["auto", "on", "off"]  # as bench.methods._gan.accel
OFFICIAL_SIZE = 224
SAGAN_SIZE = 64


@dataclasses.dataclass(frozen=True)
class SyntheticAnomalyConfig:
    """Defaults are the official code's; the patch constants are `train_chest_xray.py`'s module constants."""

    image_size: ImageSize = OFFICIAL_SIZE  # network input (a multiple of 32); 64: SAGAN's stated resolution
    width: PositiveInt = 64  # the network's first-stage channels; 64 is the official ResNet-18 (all but FPI's smoke)
    epochs: PositiveInt | None = None  # None: the official epochs for the run's data set (epochs_for)
    batch_size: PositiveInt = 64
    lr: PositiveFloat = 1e-3
    min_lr: NonNegativeFloat = 1e-6
    rotation_degrees: NonNegativeFloat = 3.0  # RandomRotation(3)
    # Patches (half-widths as fractions of the side; the gamma rule's shape, scale and offset).
    min_half_width: Fraction = 0.03
    max_half_width: Fraction = 0.4
    gamma_shape: PositiveFloat = 2.0
    gamma_scale: PositiveFloat = 0.03
    gamma_offset: NonNegativeFloat = 0.05
    num_patches: PositiveInt = 3
    min_object: Fraction = 0.7
    min_overlap: Fraction = 0.7
    background_threshold: NonNegativeFloat = 20.0  # |I - 0| > this is object
    logistic_k: PositiveFloat = 0.5  # NSA's logistic-intensity label
    logistic_x0: NonNegativeFloat = 4.0
    # Speed (no effect on what is learned beyond float rounding). workers: threads building synthetic batches
    # (0: in the training thread); accel as the GANs': auto = bf16 autocast / channels_last / compile on CUDA only.
    workers: NonNegativeInt = 0
    accel: AccelMode = "auto"
    amp: bool = True
    channels_last: bool = True
    compile: bool = False
    score_batch_size: PositiveInt = 64

    def patch_settings(self) -> PatchSettings:
        """The synthesis core's settings."""
        return PatchSettings(min_half_width=self.min_half_width, max_half_width=self.max_half_width,
                             gamma_shape=self.gamma_shape, gamma_scale=self.gamma_scale,
                             gamma_offset=self.gamma_offset, num_patches=self.num_patches,
                             min_object=self.min_object, min_overlap=self.min_overlap,
                             background_threshold=self.background_threshold, logistic_k=self.logistic_k,
                             logistic_x0=self.logistic_x0)


# Official epochs: NSA trains 240 epochs on chest X-rays (train_chest_xray.py); MedIAnomaly's copy of the code, whose
# numbers SAGAN reports, trains RSNA 250, VinDr-CXR 400 and LAG 250 epochs. Other data sets get NSA's 240.
OFFICIAL_EPOCHS: dict[str, int] = {"rsna": 250, "vindr": 400, "lag": 250}
OTHER_EPOCHS = 240


def epochs_for(config: SyntheticAnomalyConfig, dataset: str | None) -> SyntheticAnomalyConfig:
    """`config` with epochs=None resolved to `dataset`'s official epochs."""
    if config.epochs is not None:
        return config
    return dataclasses.replace(config, epochs=OFFICIAL_EPOCHS.get(dataset or "", OTHER_EPOCHS))


PRESETS: dict[str, SyntheticAnomalyConfig] = {
    "paper": SyntheticAnomalyConfig(),
    # Minutes on one GPU: SAGAN's 64 px, 100 epochs, synthesis on 8 threads.
    "fast": SyntheticAnomalyConfig(image_size=SAGAN_SIZE, epochs=100, workers=8, compile=True),
    # About a CPU-minute (make demo, the learning check): 64 px (at 32 px PII's and NSA's patches fall under the
    # 50-pixel Poisson minimum and no anomaly is made), batch 16, 2 epochs (50 steps on 400 normals); fp32. The
    # network is the paper's (11.5M parameters): a step costs about 1 s on one core, so there is no room for more.
    "smoke": SyntheticAnomalyConfig(image_size=SAGAN_SIZE, epochs=2, batch_size=16, amp=False, channels_last=False),
}
# Seconds on a CPU (the contract checks): one epoch at 32 px.
PRESETS["tiny"] = dataclasses.replace(PRESETS["smoke"], image_size=32, epochs=1, batch_size=16)

# PII's smoke runs at 96 px: at 64 px only about a third of its synthetic images carry a patch that passes the
# 50-pixel Poisson minimum, and the learning check measured test AUC 0.608 / 0.637 (seeds 0, 1) there, 0.553 / 0.624
# with 3 epochs and 0.581 (seed 0) with 8; at 96 px (2 epochs, about 35-40 CPU-seconds of fit) 0.662 / 0.622
# (3 epochs: 0.571 on seed 0; 128 px, 2 epochs: 0.531 / 0.544).
PII_PRESETS: dict[str, SyntheticAnomalyConfig] = {**PRESETS,
                                                   "smoke": dataclasses.replace(PRESETS["smoke"], image_size=96)}

# FPI's smoke runs a quarter-width network (width 16: 0.72M parameters instead of 11.5M) for 50 epochs (1,250 steps of
# 16 images at 64 px, about 70-72 CPU-seconds of fit at one thread); synthesis, loss, lr and schedule are the official.
# FPI's soft, same-place blends need about a thousand steps before the network localises them at all: at the
# family's smoke (50 steps of the full network) and in the first 750-1,000 steps of every setting we measured, the
# training loss stayed at the constant map's and the pixel AUROC on held-out synthetic anomalies at 0.46-0.55, and
# the learning split's AUC wandered between 0.35 and 0.72 from seed to seed and epoch to epoch (README.md's table).
# Here: test AUC 0.733 / 0.672 / 0.705 / 0.713 (seeds 0-3), synthetic pixel AUROC 0.68 / 0.70 (seeds 0, 1).
FPI_PRESETS: dict[str, SyntheticAnomalyConfig] = {
    **PRESETS, "smoke": dataclasses.replace(PRESETS["smoke"], width=16, epochs=50)}
