"""The ALOCC detector: fit trains R and D on normals with the shared GAN loop; the score is 1 - D(R(x)) (the
paper) or 1 - D(x) (the code, `--set score=d_x`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from bench.core.config import config_to_dict
from bench.core.detector import state_on_cpu
from bench.core.device import seed_everything
from bench.core.images import TrainData
from bench.methods._gan import DeviceSampler, GANLoop, LoopSettings, fingerprint, ids_digest, images_to_device
from bench.methods._gan.detector import GANDetector
from bench.methods._gan.networks import n_parameters
from bench.methods.alocc.losses import anomaly_score
from bench.methods.alocc.presets import PRESETS, ALOCCConfig
from bench.methods.alocc.trainer import NORMAL, RECIPE, ALOCCSteps, build_networks

RESOLUTION_RULE = ("trained at image_size px (64 by default) with the official layer list unchanged: its 5x5 "
                   "stride-2 'SAME' convolutions take any side, as the code runs the same list at 28 and 45 px; "
                   "only the linear layer of D grows with the side")
SCORES = {"d_r_x": "1 - D(R(x)) (the paper)", "d_x": "1 - D(x) (the code's f_test_frozen_model)"}


class ALOCCDetector(GANDetector):
    """ALOCC (Sabokrou et al., CVPR 2018): R refines (denoises) normals, D tells them from refined noisy images;
    higher 1 - D(R(x)) = more anomalous; map |x - R(x)|."""

    name = "alocc"
    display_name = "ALOCC"
    summary = "ALOCC (CVPR 2018): adversarial refiner R + discriminator D on normals, score 1 - D(R(x))"
    uses_unlabeled = False
    recipe = RECIPE
    config_class = ALOCCConfig
    presets = PRESETS

    def _fit(self, data: TrainData, val: Any | None) -> None:
        seed_everything(self.seed)
        c = self.config
        accel = self._accel()
        self.size_ = c.image_size
        R, D = build_networks(c, self.size_)
        for module in (R, D):
            accel.prepare(module).train()
        normal = images_to_device(data.normal, accel.device, size=self.size_)
        sampler = DeviceSampler({NORMAL: normal}, c.batch_size, seed=self.seed, channels=c.channels, hflip=c.hflip)
        iterations = c.total_iterations(len(data.normal))
        settings = LoopSettings(iterations=iterations, n_critic=1, checkpoint_every=c.checkpoint_every,
                                log_every=c.log_every, description="alocc")
        identity = fingerprint(config_to_dict(c), self.seed, iterations, ids_digest(data.normal))
        steps = ALOCCSteps(R, D, c, accel, sampler)
        result = GANLoop(steps, sampler, settings, accel=accel, folder=self.workdir, identity=identity,
                         progress=self.progress).run()
        if steps.ema:
            R, D = steps.ema["R_ema"], steps.ema["D_ema"]
        self._keep(R, D)
        self.train_info_ = {**result.info(), "accel": accel.info(),
                            "iterations": {"d_steps": iterations, "r_steps": iterations * c.g_updates},
                            "parameters": {"R": n_parameters(R), "D": n_parameters(D)},
                            "score": SCORES[c.score], "refinement": c.refinement,
                            "weights": "final" if c.ema_decay is None else f"EMA of R and D, decay {c.ema_decay}",
                            "resolution": {"image_size": self.size_, "rule": RESOLUTION_RULE}}

    def _keep(self, R: torch.nn.Module, D: torch.nn.Module) -> None:
        for module in (R, D):
            module.to(self.device, memory_format=torch.contiguous_format).eval().requires_grad_(False)
        self.generator_, self.critic_ = R, D

    # --- inference -------------------------------------------------------------------------------------
    def _translate(self, x: torch.Tensor) -> torch.Tensor:
        """R(x), the refined image (no noise at test, as the paper)."""
        return self.generator_(x)

    def _score_batch(self, x: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
        """The critic's score of x, or of R(x) with `score = "d_r_x"`."""
        return anomaly_score(self.critic_(rec if self.config.score == "d_r_x" else x))

    def _save_samples(self, sets: Mapping[str, torch.Tensor], iteration: int | None = None) -> None:
        return None

    # --- state -----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"refiner": state_on_cpu(self.generator_),
                "critic": state_on_cpu(self.critic_),
                "size": int(self.size_)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.size_ = int(state["size"])
        R, D = build_networks(self.config, self.size_)
        R.load_state_dict(state["refiner"])
        D.load_state_dict(state["critic"])
        self._keep(R, D)
