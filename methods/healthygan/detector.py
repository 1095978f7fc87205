"""The HealthyGAN detector: fit trains G and D with the shared GAN loop; the score is mean |x - x_hat| / 2."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from bench.detector import Detector, TrainData
from bench.device import seed_everything
from bench.methods._gan import Accel, save_sample_grid, to_unit_range
from bench.methods._gan.scoring import RestorationScoring
from bench.methods.healthygan.losses import compose
from bench.methods.healthygan.networks import Generator, count_parameters
from bench.methods.healthygan.presets import PRESETS, HealthyGANConfig
from bench.methods.healthygan.trainer import build_networks, model_size, train

N_SAMPLE_ROWS = 4  # per training set in samples.png


class HealthyGANDetector(RestorationScoring, Detector):
    """HealthyGAN (Rahman Siddiquee et al., SASHIMI 2022): semi-supervised; learns to turn mixed images into
    healthy-looking ones (G outputs an image and a mask, Eq. 1); higher |x - x_hat| = more anomalous."""

    name = "healthygan"
    uses_unlabeled = True
    config_class = HealthyGANConfig
    presets = PRESETS
    learning_floor = 0.62
    learning_floor_reason = (
        "the smoke preset (narrow networks, 600 iterations at 32 px, about two CPU-minutes) measured test AUC "
        "0.689 and 0.663 (seeds 0, 1) on the learning split with val-auc selection; a small critic alone separates "
        "that split at only 0.77, so a CPU-sized translation cannot reach 0.75")

    def _accel(self) -> Accel:
        c = self.config
        return Accel.for_device(self.device, amp=c.amp, channels_last=c.channels_last, compile=c.compile)

    def _fit(self, data: TrainData, val: Any | None) -> None:
        seed_everything(self.seed)
        accel = self._accel()
        self.size_ = model_size(self.config, data.normal)
        generator, critic = build_networks(self.config, self.size_)
        self.generator_ = generator
        result, sets = train(generator, critic, data, config=self.config, seed=self.seed, accel=accel,
                             workdir=self.workdir, progress=self.progress, score=self._score_during_fit,
                             translate=self._translate, val=val, on_checkpoint=self._save_samples)
        self.generator_ = generator.eval()
        self.train_info_ = {**result.info(), "accel": accel.info(),
                            "parameters": {"G": count_parameters(generator), "D": count_parameters(critic)}}
        self._save_samples(sets)

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
        rows = torch.cat([to_unit_range(sets[k][:N_SAMPLE_ROWS], self.config.channels) for k in ("A", "B")])
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

    # --- state -----------------------------------------------------------------------------------------
    def run_info(self) -> dict[str, Any]:
        return {"training": getattr(self, "train_info_", None), "image_size": getattr(self, "size_", None)}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": {k: v.detach().cpu() for k, v in self.generator_.state_dict().items()},
                "size": int(self.size_)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        c = self.config
        generator = Generator(c.channels, c.g_conv_dim, c.g_res_blocks)
        generator.load_state_dict(state["generator"])
        self.generator_ = generator.to(self.device).eval()
        self.size_ = int(state["size"])
