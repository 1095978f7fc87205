"""PCA reconstruction error as an anomaly score (scikit-learn PCA fitted on known-normal images)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import PCA

from bench.config import PositiveFloat, PositiveInt
from bench.detector import Detector, ImageSet, TrainData


@dataclasses.dataclass(frozen=True)
class PCAConfig:
    """n_components: an int (components) or a float in (0, 1) (fraction of variance kept)."""

    n_components: PositiveFloat = 0.95
    whiten: bool = False
    max_train_images: PositiveInt = 20000  # PCA cost grows with N; beyond this a seeded subsample is used


def _flatten(images: ImageSet) -> np.ndarray:
    return np.asarray(images.images, dtype=np.float32).reshape(len(images), -1) / 255.0


class PCADetector(Detector):
    """Fits PCA on known-normal images; the score is the mean squared error of the reconstruction."""

    name = "pca"
    display_name = "PCA"
    summary = "PCA reconstruction error (scikit-learn); the sanity baseline"
    uses_unlabeled = False
    config_class = PCAConfig
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

    def state_dict(self) -> dict[str, Any]:
        pca = self.pca_
        return {
            "mean": torch.from_numpy(pca.mean_),
            "components": torch.from_numpy(pca.components_),
            "explained_variance": torch.from_numpy(pca.explained_variance_),
            "n_components": int(pca.n_components_),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pca = PCA(n_components=int(state["n_components"]), whiten=self.config.whiten)
        pca.mean_ = state["mean"].numpy()
        pca.components_ = state["components"].numpy()
        pca.explained_variance_ = state["explained_variance"].numpy()
        pca.n_components_ = int(state["n_components"])
        pca.n_features_in_ = pca.components_.shape[1]
        self.pca_ = pca
