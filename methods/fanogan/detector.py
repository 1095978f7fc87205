"""The f-AnoGAN detector: fit runs both stages (resumable), the score is the izi_f residual per image."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from bench.core.detector import state_on_cpu
from bench.core.device import seed_everything
from bench.core.images import ImageSet, TrainData
from bench.methods._gan import ids_digest, images_to_device
from bench.methods._gan.detector import GANDetector
from bench.methods._gan.networks import n_parameters
from bench.methods.fanogan.losses import anomaly_score
from bench.methods.fanogan.networks import stages
from bench.methods.fanogan.presets import PRESETS, FAnoGANConfig
from bench.methods.fanogan.trainer import RECIPE, build_encoder, build_networks, frozen, train_two_stages

if TYPE_CHECKING:
    from bench.core.cost import CostProbe, DataShape

RESOLUTION_RULE = ("networks built for image_size px; 64 is the official network, each doubling adds one stride-2 "
                   "ResBlock (log2(size) - 2 of them); images are resized to image_size on the device")


class FAnoGANDetector(GANDetector):
    """f-AnoGAN (Schlegl et al., MedIA 2019): WGAN-GP on normals, then the izi_f encoder; higher
    MSE(x, G(E(x))) + kappa MSE(f(x), f(G(E(x)))) = more anomalous; map |x - G(E(x))|."""

    name = "fanogan"
    display_name = "f-AnoGAN"
    summary = "f-AnoGAN (MedIA 2019): WGAN-GP + izi_f encoder on normals, score image + feature residual"
    uses_unlabeled = False
    recipe = RECIPE
    config_class = FAnoGANConfig
    presets = PRESETS

    def _fit(self, data: TrainData, val: Any | None) -> None:
        seed_everything(self.seed)
        c = self.config
        accel = self._accel()
        self.size_ = c.image_size
        G, D = build_networks(c, self.size_)
        E = build_encoder(c, self.size_)
        normal = images_to_device(data.normal, accel.device, size=self.size_)
        iterations = c.stage1_iterations(len(data.normal))
        result = train_two_stages(G, D, E, normal, config=c, seed=self.seed, accel=accel, workdir=self.workdir,
                                  progress=self.progress, data_id=ids_digest(data.normal),
                                  stage1_iterations=iterations)
        self._keep(G, D, E)
        self.train_info_ = {**result.info(), "accel": accel.info(),
                            "iterations": {"stage1_critic_steps": iterations,
                                           "stage1_generator_steps": iterations // c.n_critic,
                                           "stage2_encoder_steps": c.encoder_iterations},
                            "parameters": {"G": n_parameters(G), "D": n_parameters(D),
                                           "E": n_parameters(E)},
                            "resolution": {"image_size": self.size_, "resblocks": stages(self.size_),
                                           "rule": RESOLUTION_RULE}}

    def _keep(self, G: torch.nn.Module, D: torch.nn.Module, E: torch.nn.Module) -> None:
        for module in (G, D, E):
            module.to(self.device, memory_format=torch.contiguous_format)
        frozen(G, D, E)
        self.generator_, self.critic_, self.encoder_ = G, D, E

    # --- inference -------------------------------------------------------------------------------------
    def _translate(self, x: torch.Tensor) -> torch.Tensor:
        """G(E(x)): the reconstruction the map and the restored images use."""
        return self.generator_(self.encoder_(x))

    def _score_batch(self, x: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
        """izi_f: the residual plus kappa times the critic's feature residual."""
        return anomaly_score(x, rec, self.critic_.features(x), self.critic_.features(rec), self.config.kappa)

    def _score_during_fit(self, images: ImageSet) -> np.ndarray:  # no selection: never called
        raise AssertionError("f-AnoGAN keeps its final weights")

    def _save_samples(self, sets: Mapping[str, torch.Tensor], iteration: int | None = None) -> None:
        return None

    @classmethod
    def cost_probe(cls, config: FAnoGANConfig, data: DataShape, device: torch.device) -> CostProbe:
        """Stage 1's real steps timed by the shared probe; stage 2's encoder steps counted at the same cost."""
        from bench.methods._gan.probe import probe_training

        stage1 = config.stage1_iterations(data.count("train_normal", 1000))
        probe = probe_training(cls.recipe, dataclasses.replace(config, iterations=stage1), data, device)
        return dataclasses.replace(probe, steps=stage1 + config.encoder_iterations,
                                   notes=(*probe.notes, "encoder steps timed as critic steps"))

    # --- state -----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"generator": state_on_cpu(self.generator_), "critic": state_on_cpu(self.critic_),
                "encoder": state_on_cpu(self.encoder_), "size": int(self.size_)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.size_ = int(state["size"])
        G, D = build_networks(self.config, self.size_)
        E = build_encoder(self.config, self.size_)
        for module, key in ((G, "generator"), (D, "critic"), (E, "encoder")):
            module.load_state_dict(state[key])
        self._keep(G, D, E)
