"""The HealthyGAN detector: fit trains G and D with the shared GAN driver; the score is mean |x - x_hat| / 2."""

from __future__ import annotations

from collections.abc import Mapping

import torch

from bench.methods._gan import save_sample_grid, to_unit_range
from bench.methods._gan.detector import GANDetector
from bench.methods.healthygan.losses import compose
from bench.methods.healthygan.presets import PRESETS, HealthyGANConfig, with_dataset_batch
from bench.methods.healthygan.trainer import HEALTHY, MIXED, RECIPE

N_SAMPLE_ROWS = 4  # per training set in samples.png


class HealthyGANDetector(GANDetector):
    """HealthyGAN (Rahman Siddiquee et al., SASHIMI 2022): semi-supervised; learns to turn mixed images into
    healthy-looking ones (G outputs an image and a mask, Eq. 1); higher |x - x_hat| = more anomalous."""

    name = "healthygan"
    display_name = "HealthyGAN"
    summary = "HealthyGAN (SASHIMI 2022): mixed -> healthy translation with a mask, score |x - x_hat|"
    uses_unlabeled = True
    recipe = RECIPE
    config_class = HealthyGANConfig
    presets = PRESETS

    @classmethod
    def for_dataset(cls, config: HealthyGANConfig, dataset: str | None) -> HealthyGANConfig:
        """batch_size=None becomes the paper's batch for `dataset` (32 on ChestX-ray14, else 16)."""
        return with_dataset_batch(config, dataset)

    # --- inference -------------------------------------------------------------------------------------
    def _translate(self, x: torch.Tensor) -> torch.Tensor:
        """x_hat (Eq. 1) for images in [-1, 1] at the model's size, in fp32: the restored image the score,
        the maps and the qualitative figures use."""
        image, mask = self.generator_(x)
        return compose(x, image, mask)

    # --- sample grid ---------------------------------------------------------------------------------------
    def _save_samples(self, sets: Mapping[str, torch.Tensor], iteration: int | None = None) -> None:
        """samples.png in the run folder: input, healthy image, mask, x_hat, |x - x_hat| for a few training
        images of the mixed (A) and healthy (B) sets. Training images only: never the test split."""
        if self.workdir is None or not sets:
            return
        rows = torch.cat([to_unit_range(sets[k][:N_SAMPLE_ROWS], self.config.channels) for k in (MIXED, HEALTHY)])
        labels = [f"mixed {i}" for i in range(N_SAMPLE_ROWS)] + [f"healthy {i}" for i in range(N_SAMPLE_ROWS)]
        with torch.no_grad():
            image, mask = self.generator_(rows)
            x_hat = compose(rows, image, mask)
        panels = {"input": rows, "healthy image": image, "mask": mask, "x_hat": x_hat,
                  "|x - x_hat|": (rows - x_hat).abs()}
        ranges = {"input": (-1, 1), "healthy image": (-1, 1), "mask": (0, 1), "x_hat": (-1, 1),
                  "|x - x_hat|": (0, 1)}
        title = "HealthyGAN" + ("" if iteration is None else f", iteration {iteration}")
        save_sample_grid(self.workdir / "samples.png", panels, ranges, colormaps={"|x - x_hat|": "magma"},
                         row_labels=labels[:len(rows)], title=title)
