"""CutPaste, FPI, PII and NSA as SAGAN ran them: NSA's unified code (hmsch/natural-synthetic-anomalies), one
detector base and four tasks. Training: synthetic anomalies made from known normals (`batches`, `synthesis`), a
ResNet-18 encoder-decoder learning their label maps (`networks`, `trainer`). Scoring as the official evaluation:
resize to 256 (scaled with the run's size), centre crop 224, the predicted map's mean is the score; the map, padded
with zeros to the resized side as the official `full_size` evaluation pads it, is resized to the input's size."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from bench.core.detector import Detector, RunResources
from bench.core.device import seed_everything
from bench.core.images import ImageSet, TrainData
from bench.methods.synthetic_anomaly.presets import (
    FPI_PRESETS,
    OFFICIAL_SIZE,
    PII_PRESETS,
    PRESETS,
    SAGAN_SIZE,
    SyntheticAnomalyConfig,
    epochs_for,
)
from bench.methods.synthetic_anomaly.tasks import TASKS, Task

if TYPE_CHECKING:
    from bench.core.cost import CostProbe, DataShape


def resolution(image_size: int) -> str:
    """Which setting produced a number: the official code's 224 px, SAGAN's stated 64 px, or another size."""
    if image_size == OFFICIAL_SIZE:
        return "224 px (official code)"
    if image_size == SAGAN_SIZE:
        return "64 px (SAGAN's text)"
    return f"{image_size} px (neither the official 224 nor SAGAN's 64)"


class SyntheticAnomalyDetector(Detector):
    """Base of the four: a subclass sets `task` (a key of TASKS) and its metadata."""

    task: ClassVar[str]
    uses_unlabeled = False
    config_class = SyntheticAnomalyConfig
    presets = PRESETS
    in_all = True
    resources = RunResources(gpus=1.0)

    @classmethod
    def for_dataset(cls, config: Any, dataset: str | None) -> Any:
        return epochs_for(config, dataset)

    @property
    def task_(self) -> Task:
        return TASKS[self.task]

    def _accel(self) -> Any:
        from bench.methods._gan.accel import Accel

        c = self.config
        return Accel.for_device(self.device, amp=c.amp, channels_last=c.channels_last, compile=c.compile,
                                mode=c.accel)

    def _fit(self, data: TrainData, val: Any | None) -> None:
        from bench.methods.synthetic_anomaly.batches import SyntheticBatches, crop_sizes, to_gray_resized
        from bench.methods.synthetic_anomaly.networks import ResNetEncDec, count_parameters
        from bench.methods.synthetic_anomaly.trainer import train

        seed_everything(self.seed)
        config = self.for_dataset(self.config, None)
        size = int(config.image_size)
        if size % 32:
            raise ValueError(f"{self.name}: image_size must be a multiple of 32 (the network halves it five times)")
        load, centre = crop_sizes(size)
        batches = SyntheticBatches(to_gray_resized(data.normal.images, load), self.task_, config.patch_settings(),
                                   image_size=size, centre=centre, degrees=config.rotation_degrees,
                                   batch_size=config.batch_size, seed=self.seed, workers=config.workers)
        network = ResNetEncDec(width=self.config.width)
        accel = self._accel()
        try:
            info = train(network, batches, epochs=int(config.epochs), lr=config.lr, min_lr=config.min_lr,
                         accel=accel, progress=self.progress)
        finally:
            batches.close()
        # Plain NCHW fp32 weights: scores after fit equal a saved-and-loaded detector's.
        self.network_ = network.to(memory_format=torch.contiguous_format).eval()
        self.size_ = size
        self.train_info_ = {**info, "accel": accel.info(), "parameters": count_parameters(network)}

    def _predict(self, images: ImageSet) -> tuple[np.ndarray, np.ndarray]:
        """(scores (N,), maps (N, H, W)) at the input's size."""
        parts = list(self._scores_and_maps(images))
        if not parts:
            return np.zeros(0), np.zeros((0, *images.size), dtype=np.float32)
        return (np.concatenate([scores for scores, _ in parts]).astype(np.float64),
                np.concatenate([maps for _, maps in parts]).astype(np.float32, copy=False))

    def _scores_and_maps(self, images: ImageSet) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Per batch: the mean of the predicted map (the score) and the map, padded back to the load size and
        resized to the input's."""
        from bench.methods.synthetic_anomaly.batches import centre_crop, crop_sizes, to_gray_resized

        load, _ = crop_sizes(self.size_)
        pad = (load - self.size_) // 2
        step = int(self.config.score_batch_size)
        for start in range(0, len(images), step):
            gray = to_gray_resized(np.asarray(images.images[start:start + step]), load)
            x = torch.from_numpy(np.ascontiguousarray(centre_crop(gray, self.size_))[:, None]).float().div_(255.0)
            prediction = self.network_(x.to(self.device)).float()
            full = F.pad(prediction, (pad, load - self.size_ - pad, pad, load - self.size_ - pad))
            resized = F.interpolate(full, size=images.size, mode="bilinear", align_corners=False)
            yield prediction.mean(dim=(1, 2, 3)).cpu().numpy(), resized[:, 0].cpu().numpy()

    def _score(self, images: ImageSet) -> np.ndarray:
        return self._predict(images)[0]

    def _anomaly_maps(self, images: ImageSet) -> np.ndarray:
        return self._predict(images)[1]

    @classmethod
    def cost_probe(cls, config: Any, data: DataShape, device: torch.device) -> CostProbe:
        """Timed training steps of the real network at the preset's size and batch on `device`, plus the time to
        synthesise one batch on this machine's threads (bench.methods.synthetic_anomaly.probe)."""
        from bench.methods.synthetic_anomaly.probe import probe_training

        return probe_training(cls, config, data, device)

    def run_info(self) -> dict[str, Any]:
        from bench.methods.synthetic_anomaly.networks import OFFICIAL_PARAMETERS

        size = getattr(self, "size_", None)
        return {"task": self.task, "resolution": None if size is None else resolution(size),
                "official_parameters": OFFICIAL_PARAMETERS, "training": getattr(self, "train_info_", None)}

    def state_dict(self) -> dict[str, Any]:
        return {"network": {k: v.detach().cpu() for k, v in self.network_.state_dict().items()},
                "size": int(self.size_)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        from bench.methods.synthetic_anomaly.networks import ResNetEncDec

        network = ResNetEncDec(width=self.config.width)
        network.load_state_dict(state["network"])
        self.network_ = network.to(self.device).eval()
        self.size_ = int(state["size"])


class CutPasteDetector(SyntheticAnomalyDetector):
    """CutPaste as NSA's unified code runs it (SAGAN's row): a patch of the same image pasted elsewhere."""

    name = "cutpaste"
    display_name = "CutPaste"
    summary = "CutPaste (NSA's unified code): same-image patches pasted elsewhere, ResNet-18 enc-dec segments them"
    task = "cutpaste"


class FPIDetector(SyntheticAnomalyDetector):
    """Foreign Patch Interpolation: a convex blend with a patch of another normal image, label = blend factor."""

    name = "fpi"
    display_name = "FPI"
    summary = "FPI (NSA's unified code): foreign patches blended in, the blend factor is the label map"
    task = "fpi"
    # smoke at a quarter width for 1,250 steps (presets.py says why): the family's 50-step smoke stays at the constant
    # map of the mean label and scores at chance on the learning split.
    presets = FPI_PRESETS


class PIIDetector(SyntheticAnomalyDetector):
    """Poisson Image Interpolation: a foreign patch Poisson-blended (mixed gradients) in place."""

    name = "pii"
    display_name = "PII"
    summary = "PII (NSA's unified code): foreign patches Poisson-blended (mixed gradients) in place"
    task = "pii"
    presets = PII_PRESETS  # smoke at 96 px (presets.py says why)


class NSADetector(SyntheticAnomalyDetector):
    """Natural Synthetic Anomalies: resized, shifted foreign patches, Poisson-blended, logistic-intensity label."""

    name = "nsa"
    display_name = "NSA"
    summary = "NSA: resized, shifted foreign patches Poisson-blended, logistic-intensity label maps"
    task = "nsa"
