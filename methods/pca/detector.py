"""PCA reconstruction error as an anomaly score (scikit-learn PCA fitted on known-normal images)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from bench.core.config import PositiveFloat, PositiveInt
from bench.core.detector import Detector, RunResources
from bench.core.errors import BenchError
from bench.core.images import ImageSet, TrainData


@dataclasses.dataclass(frozen=True)
class PCAConfig:
    """n_components: an int (components) or a float in (0, 1) (fraction of variance kept)."""

    n_components: PositiveFloat = 0.95
    whiten: bool = False
    max_train_images: PositiveInt = 20000  # PCA cost grows with N; beyond this a seeded subsample is used

    def __post_init__(self) -> None:  # 2.5 components is neither a count nor a fraction: refused (issue 28)
        if self.n_components >= 1 and self.n_components != int(self.n_components):
            raise BenchError(f"n_components={self.n_components:g}: give a whole number of components (>= 1) or "
                             "a fraction of variance in (0, 1)")


SAMPLE_IMAGES = 128  # the cost probe's fit sample


def _flatten(images: ImageSet) -> np.ndarray:
    return np.asarray(images.images, dtype=np.float32).reshape(len(images), -1) / 255.0


class PCADetector(Detector):
    """Fits PCA on known-normal images; the score is the mean squared error of the reconstruction."""

    name = "pca"
    display_name = "PCA"
    summary = "PCA reconstruction error (scikit-learn); the sanity baseline"
    uses_unlabeled = False
    config_class = PCAConfig
    resources = RunResources(gpus=0.0)  # scikit-learn on the CPU: holding a GPU would only idle it
    presets = {
        "paper": PCAConfig(),
        "fast": PCAConfig(),
        "smoke": PCAConfig(),
        "tiny": PCAConfig(),  # PCA fits in a second at any of these sizes
    }

    def _fit(self, data: TrainData, val: Any | None) -> None:
        features = _flatten(data.normal)
        if len(features) > self.config.max_train_images:
            keep = np.random.default_rng(self.seed).choice(len(features), self.config.max_train_images, replace=False)
            features = features[np.sort(keep)]
        n_components = self.config.n_components
        if n_components >= 1:
            n_components = int(min(n_components, *features.shape))
        from sklearn.decomposition import PCA  # here: planning a run must not pay for it
        self.pca_ = PCA(n_components=n_components, whiten=self.config.whiten, svd_solver="full",
                        random_state=self.seed).fit(features)

    def _score(self, images: ImageSet) -> np.ndarray:
        features = _flatten(images)
        restored = self.pca_.inverse_transform(self.pca_.transform(features))
        return ((features - restored) ** 2).mean(axis=1)

    def _anomaly_maps(self, images: ImageSet) -> np.ndarray:
        features = _flatten(images)
        restored = self.pca_.inverse_transform(self.pca_.transform(features))
        maps = np.abs(features - restored).reshape(len(images), *images.images.shape[1:])
        return maps.mean(axis=1)

    @classmethod
    def cost_probe(cls, config: PCAConfig, data: Any, device: torch.device) -> Any:
        """A fit on a random sample of the training set's image size, scaled by the full SVD's cost
        min(N, D)^2 max(N, D) to the N images the fit will use (D pixels per image)."""
        from bench.core.cost import CostProbe, peak_memory, random_images, timed

        n_train = min(data.count("train_normal"), config.max_train_images)
        n_sample = max(2, min(n_train, SAMPLE_IMAGES))
        sample = random_images(n_sample, data.channels, data.size)
        detector = cls(config, seed=0, device="cpu")
        with peak_memory(torch.device("cpu")) as peak:
            seconds = timed(lambda: detector._fit(TrainData(sample), None), torch.device("cpu"))
            per_image = timed(lambda: detector._score(sample), torch.device("cpu")) / n_sample
        pixels = data.channels * data.size**2

        def svd_cost(n: int) -> float:
            return min(n, pixels) ** 2 * max(n, pixels)

        kept = min(n_train, pixels)  # components are at most min(N, D), each D float64 values, plus the mean
        return CostProbe(parameters=None, seconds_per_step=seconds * svd_cost(max(n_train, 2)) / svd_cost(n_sample),
                         steps=1, step=f"fit on {n_train:,} images", peak_memory_mb=peak.mb,
                         state_bytes=8 * pixels * (kept + 2),
                         extra_seconds=per_image * (data.count("test") + data.count("val")),
                         notes=(f"timed on {n_sample} images, SVD-scaled",))

    def state_dict(self) -> dict[str, Any]:
        pca = self.pca_
        return {
            "mean": torch.from_numpy(pca.mean_),
            "components": torch.from_numpy(pca.components_),
            "explained_variance": torch.from_numpy(pca.explained_variance_),
            "n_components": int(pca.n_components_),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        from sklearn.decomposition import PCA  # here: planning a run must not pay for it
        pca = PCA(n_components=int(state["n_components"]), whiten=self.config.whiten)
        pca.mean_ = state["mean"].numpy()
        pca.components_ = state["components"].numpy()
        pca.explained_variance_ = state["explained_variance"].numpy()
        pca.n_components_ = int(state["n_components"])
        pca.n_features_in_ = pca.components_.shape[1]
        self.pca_ = pca
