"""The ALAD detector: fit trains E, G, D_xz, D_xx, D_zz on normals with the shared GAN loop and early stopping on
held-out normal images; the score is D_xx's feature-matching distance with the EMA weights (the paper's; `score`
picks one of the code's other three: ch, l1, l2)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from bench.core.config import config_to_dict
from bench.core.detector import state_on_cpu
from bench.core.device import seed_everything
from bench.core.errors import BenchError
from bench.core.images import TrainData
from bench.methods._gan import DeviceSampler, LoopSettings, fingerprint, ids_digest, images_to_device, split_holdout
from bench.methods._gan.detector import GANDetector
from bench.methods._gan.networks import n_parameters
from bench.methods.alad.losses import cross_entropy_score, feature_matching_score, residual_score
from bench.methods.alad.networks import DiscriminatorXX, Encoder, Generator, extra_stages
from bench.methods.alad.presets import PRESETS, ALADConfig
from bench.methods.alad.trainer import (
    D_BATCH,
    G_BATCH,
    RECIPE,
    ALADSteps,
    EarlyStoppingLoop,
    ValidationFM,
    build_networks,
)

if TYPE_CHECKING:
    from bench.core.cost import CostProbe, DataShape

SCORES = {"fm": "||f_xx(x, x) - f_xx(x, G(E(x)))||_1, f_xx D_xx's last convolution (score_fm, the paper's)",
          "ch": "sigmoid cross-entropy of D_xx(x, G(E(x))) against 'real' (the code's score_ch)",
          "l1": "||x - G(E(x))||_1 (the code's score_l1)", "l2": "||x - G(E(x))||_2 (the code's score_l2)"}
RESOLUTION_RULE = ("networks built for image_size = 32 x 2^k px: 32 is the official network; each doubling "
                   "prepends one stride-2 stage (half width) to E, D_xz's image path and D_xx and appends one to G")


class ALADDetector(GANDetector):
    """ALAD (Zenati et al., ICDM 2018): BiGAN with cycle-consistency discriminators D_xx, D_zz on normals; higher
    ||f_xx(x, x) - f_xx(x, G(E(x)))||_1 = more anomalous (EMA weights); map |x - G(E(x))|."""

    name = "alad"
    display_name = "ALAD"
    summary = "ALAD (ICDM 2018): BiGAN + D_xx/D_zz with spectral norm on normals, score D_xx feature matching"
    uses_unlabeled = False
    # Not in `--methods all` (nor `make demo`): its CPU-minute smoke preset measured test AUC 0.570 and 0.614
    # (seeds 0, 1) on the tests' learning split, with no margin over the learning check's lowest floor (0.60), and
    # none of the code's four scores nor other CPU-sized settings did better (README.md). `--methods alad` runs it; its
    # contract checks run in tests/conformance/test_methods.py like every registered method's.
    in_all = False
    recipe = RECIPE
    config_class = ALADConfig
    presets = PRESETS

    def _fit(self, data: TrainData, val: Any | None) -> None:
        seed_everything(self.seed)
        c = self.config
        accel = self._accel()
        self.size_ = c.image_size
        keep, held = split_holdout(len(data.normal), round(c.valid_fraction * len(data.normal)), self.seed)
        if len(held) == 0:
            raise BenchError("ALAD needs at least two normal training images (one held out for early stopping)")
        train, valid = data.normal.subset(keep), data.normal.subset(held)
        gens, discs = build_networks(c, self.size_)
        for module in (gens, discs):
            accel.prepare(module).train()
        normal = images_to_device(train, accel.device, size=self.size_)
        sampler = DeviceSampler({D_BATCH: normal, G_BATCH: normal}, c.batch_size, seed=self.seed,
                                channels=c.channels, hflip=c.hflip)
        steps = ALADSteps(gens, discs, c, accel, sampler)
        for module in steps.ema.values():
            accel.prepare(module).eval()
        iterations, every = c.total_iterations(len(train)), c.checkpoint_interval(len(train))
        settings = LoopSettings(iterations=iterations, n_critic=1, checkpoint_every=every, log_every=c.log_every,
                                description="alad")
        identity = fingerprint(config_to_dict(c), self.seed, iterations, ids_digest(train), ids_digest(valid))
        loop = EarlyStoppingLoop(steps, sampler, settings, accel=accel, folder=self.workdir, identity=identity,
                                 selector=ValidationFM(steps, valid, c, accel.device), progress=self.progress,
                                 patience=c.patience)
        result = loop.run()
        self._keep(steps.ema["E_ema"], steps.ema["G_ema"], steps.ema["Dxx_ema"])
        self.train_info_ = {
            **result.info(), "accel": accel.info(), "score": {"name": c.score, "formula": SCORES[c.score]},
            "early_stopping": {"criterion": "mean score_fm of held-out normal training images (EMA weights)",
                               "held_out_normals": len(valid), "trained_on": len(train),
                               "evaluate_every": every, "patience": c.patience, "planned_iterations": iterations,
                               "stopped_early": loop.stopped_early(),
                               "best_iteration": result.selection["best_iteration"]},
            "parameters": {name: n_parameters(module) for name, module in
                           (("E", gens["E"]), ("G", gens["G"]), ("D_xz", discs["xz"]), ("D_xx", discs["xx"]),
                            ("D_zz", discs["zz"]))},
            "resolution": {"image_size": self.size_, "extra_stages": extra_stages(self.size_),
                           "rule": RESOLUTION_RULE}}

    def _keep(self, E: torch.nn.Module, G: torch.nn.Module, Dxx: torch.nn.Module) -> None:
        for module in (E, G, Dxx):
            module.to(self.device, memory_format=torch.contiguous_format).eval().requires_grad_(False)
        self.encoder_, self.generator_, self.critic_ = E, G, Dxx

    # --- inference (EMA weights) ---------------------------------------------------------------------------
    def _translate(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator_(self.encoder_(x))

    def _score_batch(self, x: torch.Tensor, rec: torch.Tensor) -> torch.Tensor:
        """The configured score (run.py `Testing/Scores`) of images x in [-1, 1] and their G(E(x))."""
        name = self.config.score
        if name in ("l1", "l2"):
            return residual_score(x, rec, degree=int(name[1]))
        logits_rec, features_rec = self.critic_(x, rec)
        if name == "ch":
            return cross_entropy_score(logits_rec)
        return feature_matching_score(self.critic_(x, x)[1], features_rec)

    def _save_samples(self, sets: Mapping[str, torch.Tensor], iteration: int | None = None) -> None:
        return None

    @classmethod
    def cost_probe(cls, config: ALADConfig, data: DataShape, device: torch.device) -> CostProbe:
        """The shared probe on the real steps, with the planned iterations (early stopping may end sooner)."""
        from bench.methods._gan.probe import probe_training

        n_train = round(data.count("train_normal", 1000) * (1 - config.valid_fraction))
        resolved = dataclasses.replace(config, iterations=config.total_iterations(n_train),
                                       evaluate_every=config.checkpoint_interval(n_train))
        probe = probe_training(cls.recipe, resolved, data, device)
        return dataclasses.replace(probe, notes=(*probe.notes, "planned iterations; early stopping may end sooner"))

    # --- state -----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"encoder": state_on_cpu(self.encoder_), "generator": state_on_cpu(self.generator_),
                "critic_xx": state_on_cpu(self.critic_), "size": int(self.size_)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        c = self.config
        self.size_ = int(state["size"])
        E = Encoder(self.size_, c.channels, c.latent_dim, c.width_div)
        G = Generator(self.size_, c.channels, c.latent_dim, c.width_div)
        Dxx = DiscriminatorXX(self.size_, c.channels, c.width_div)
        for module, key in ((E, "encoder"), (G, "generator"), (Dxx, "critic_xx")):
            module.load_state_dict(state[key])
        self._keep(E, G, Dxx)
