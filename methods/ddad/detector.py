"""The DDAD detector: fit trains the UDM, the NDM and (for refined scores) the ASR-Net in one run; the score and
the anomaly map are the configured discrepancy (bench.methods.ddad.discrepancy)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.config import config_to_dict
from bench.core.detector import Detector, state_on_cpu
from bench.core.device import seed_everything
from bench.core.errors import BenchError
from bench.core.images import ImageSet, TrainData
from bench.methods._gan.accel import Accel
from bench.methods._gan.data import ids_digest
from bench.methods._gan.loop import fingerprint
from bench.methods.ddad.discrepancy import REFINED, anomaly_probability, discrepancies, image_scores, refine_input
from bench.methods.ddad.images import gray_to_device, to_input
from bench.methods.ddad.networks import Autoencoder, RefineNet, count_parameters
from bench.methods.ddad.presets import PRESETS, DDADConfig
from bench.methods.ddad.trainer import MIXED, NORMAL, DDADTraining, build_autoencoder, build_refine

if TYPE_CHECKING:
    from bench.core.cost import CostProbe, DataShape

SELECTION_NOTE = ("no selection: every network keeps its final epoch, never chosen on the test split (the authors' "
                  "refinement trainer reported the best test-epoch AUC)")


class DDADDetector(Detector):
    """DDAD with ASR (Cai et al., MICCAI 2022; MedIA 2023): K autoencoders on known normals (NDM) and K on normals +
    the unlabeled set (UDM); the NDM's intra-discrepancy and the two modules' inter-discrepancy mark anomalies,
    refined by the ASR-Net (trained on synthetic patch anomalies). Higher discrepancy = more anomalous."""

    name = "ddad"
    display_name = "DDAD"
    summary = "DDAD-ASR (MICCAI 2022, MedIA 2023): dual-distribution discrepancy of two AE ensembles, refined"
    uses_unlabeled = True
    config_class = DDADConfig
    presets = PRESETS

    # --- training ------------------------------------------------------------------------------------------------
    def _fit(self, data: TrainData, val: Any | None) -> None:
        if data.unlabeled is None or len(data.unlabeled) == 0:
            raise BenchError("DDAD needs the unlabeled training set (its UDM trains on normals + unlabeled images)")
        c = self.config
        if c.image_size % 16:
            raise BenchError(f"DDAD's autoencoders need an image_size divisible by 16, got {c.image_size}")
        seed_everything(self.seed)
        accel = Accel.for_device(self.device, amp=c.amp, channels_last=c.channels_last, compile=c.compile,
                                 mode=c.accel)
        normal = gray_to_device(data.normal, accel.device, c.image_size)
        mixed = torch.cat([normal, gray_to_device(data.unlabeled, accel.device, c.image_size)])
        identity = fingerprint(config_to_dict(c), self.seed, ids_digest(data.normal), ids_digest(data.unlabeled))
        trained = DDADTraining(c, {NORMAL: normal, MIXED: mixed}, accel=accel, folder=self.workdir,
                               identity=identity, seed=self.seed, progress=self.progress).run()
        # Plain NCHW weights: scores after fit equal a saved-and-loaded detector's (channels_last takes other kernels)
        self._set_networks(trained.udm, trained.ndm, trained.refine)
        self.train_info_ = {**trained.info, "accel": accel.info(), "parameters": self._parameters()}

    def _set_networks(self, udm: list[Autoencoder], ndm: list[Autoencoder], refine: RefineNet | None) -> None:
        def plain(m: torch.nn.Module) -> torch.nn.Module:
            return m.to(self.device, memory_format=torch.contiguous_format).eval()

        self.udm_ = [plain(m) for m in udm]
        self.ndm_ = [plain(m) for m in ndm]
        self.refine_ = None if refine is None else plain(refine)

    def _parameters(self) -> dict[str, int]:
        counts = {f"udm-{i + 1}": count_parameters(m) for i, m in enumerate(self.udm_)}
        counts.update({f"ndm-{i + 1}": count_parameters(m) for i, m in enumerate(self.ndm_)})
        if self.refine_ is not None:
            counts["asr"] = count_parameters(self.refine_)
        return counts

    # --- inference -----------------------------------------------------------------------------------------------
    def _maps(self, images: ImageSet) -> Iterator[torch.Tensor]:
        """The configured score's (B, 1, S, S) map per batch, fp32, in order."""
        c = self.config
        step = c.score_batch_size
        for start in range(0, len(images), step):
            x = to_input(gray_to_device(images.images[start:start + step], self.device, c.image_size))
            maps = discrepancies(x, [m(x) for m in self.udm_], [m(x) for m in self.ndm_])
            if c.score in REFINED:
                yield anomaly_probability(self.refine_(refine_input(maps, c.score)))
            else:
                yield getattr(maps, c.score)

    def _score(self, images: ImageSet) -> np.ndarray:
        parts = [image_scores(m).cpu() for m in self._maps(images)]
        return torch.cat(parts).double().numpy() if parts else np.zeros(0)

    def _anomaly_maps(self, images: ImageSet) -> np.ndarray:
        """The score's map (rec / intra / inter, or the ASR-Net's P(anomaly)), resized to the input's size."""
        parts = [_resized(m, images.size).cpu() for m in self._maps(images)]
        return torch.cat(parts).numpy().astype(np.float32, copy=False)

    def _scores_and_maps(self, images: ImageSet) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Each batch's scores and resized maps from one pass of the ensembles."""
        for m in self._maps(images):
            yield image_scores(m), _resized(m, images.size)

    def _restored_images(self, images: ImageSet) -> np.ndarray:
        """mu_B, the NDM ensemble's mean reconstruction, as uint8 at the input's size and channel count."""
        c, parts = self.config, []
        for start in range(0, len(images), c.score_batch_size):
            x = to_input(gray_to_device(images.images[start:start + c.score_batch_size], self.device, c.image_size))
            mu = torch.stack([m(x).mean.float() for m in self.ndm_]).mean(dim=0)
            mu = F.interpolate(mu, size=images.size, mode="bilinear", align_corners=False)
            mu = mu.expand(-1, images.channels, -1, -1)
            parts.append(((mu.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu())
        return torch.cat(parts).numpy()

    # --- facts, cost, state ----------------------------------------------------------------------------------------
    def run_info(self) -> dict[str, Any]:
        return {"training": getattr(self, "train_info_", None), "score": self.config.score,
                "backbone": self.config.backbone, "checkpoint_selection_note": SELECTION_NOTE}

    @classmethod
    def cost_probe(cls, config: Any, data: DataShape, device: torch.device) -> CostProbe:
        """Timed steps of one autoencoder and of the ASR-Net at the preset's size and batches (bench.methods.ddad
        .probe)."""
        from bench.methods.ddad.probe import probe_training

        return probe_training(config, data, device)

    def state_dict(self) -> dict[str, Any]:
        return {"udm": [state_on_cpu(m) for m in self.udm_], "ndm": [state_on_cpu(m) for m in self.ndm_],
                "refine": None if self.refine_ is None else state_on_cpu(self.refine_)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        def built(states: list[Mapping[str, Any]]) -> list[Autoencoder]:
            out = []
            for s in states:
                module = build_autoencoder(self.config)
                module.load_state_dict(s)
                out.append(module)
            return out

        refine = None
        if state["refine"] is not None:
            refine = build_refine(self.config)
            refine.load_state_dict(state["refine"])
        self._set_networks(built(state["udm"]), built(state["ndm"]), refine)


def _resized(maps: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(B, 1, S, S) maps as (B, H, W) at `size`, bilinear."""
    return F.interpolate(maps, size=size, mode="bilinear", align_corners=False)[:, 0]
