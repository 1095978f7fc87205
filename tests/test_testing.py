"""bench.testing's checks catch what they promise to: each broken detector below breaks one rule of the contract,
and exactly the check for that rule fails (a check that cannot fail would pass them all)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from bench.core.images import ImageSet, TrainData
from bench.methods.pca.detector import PCAConfig, PCADetector
from bench.testing import CHECKS, CheckFailed, check_detector, check_name

TINY_PCA = {p: PCAConfig(n_components=3) for p in ("paper", "fast", "smoke", "tiny")}


class GoodPCA(PCADetector):
    name = "goodpca"
    presets = TINY_PCA


@dataclasses.dataclass  # PCAConfig's fields, not frozen
class MutableConfig:
    n_components: float = 3
    whiten: bool = False
    max_train_images: int = 20000


class MutablePresets(GoodPCA):
    config_class = MutableConfig
    presets = {p: MutableConfig() for p in TINY_PCA}


class NoFitCheck(GoodPCA):
    def score(self, images: ImageSet) -> np.ndarray:
        return np.asarray(self._score(images), dtype=np.float64)  # AttributeError before fit, not NotFittedError


class FitReturnsNone(GoodPCA):
    def fit(self, data: TrainData, *, val: Any | None = None) -> None:  # type: ignore[override]
        super().fit(data, val=val)


class ConstantScores(GoodPCA):
    def _score(self, images: ImageSet) -> np.ndarray:
        return np.ones(len(images))


class CountsCalls(GoodPCA):
    def _fit(self, data: TrainData, val: Any | None) -> None:
        super()._fit(data, val)
        self.calls_ = 0

    def _score(self, images: ImageSet) -> np.ndarray:
        self.calls_ += 1
        return super()._score(images)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "calls": self.calls_}

    def load_state_dict(self, state: Any) -> None:
        super().load_state_dict(state)
        self.calls_ = state["calls"]


class BatchMinMax(GoodPCA):
    def _score(self, images: ImageSet) -> np.ndarray:
        scores = super()._score(images)
        return (scores - scores.min()) / (np.ptp(scores) + 1e-12)  # running normalisation, as anomalib's GANomaly


class ForgetsOnSave(GoodPCA):
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        return {**state, "mean": state["mean"] * 0}


class IgnoresSeed(GoodPCA):
    def _fit(self, data: TrainData, val: Any | None) -> None:
        super()._fit(data, val)
        self.pca_.mean_ = self.pca_.mean_ + np.random.default_rng().normal(0, 0.1, self.pca_.mean_.shape)


class HalfSizeMaps(GoodPCA):
    def _anomaly_maps(self, images: ImageSet) -> np.ndarray:
        return super()._anomaly_maps(images)[:, ::2, ::2]


class OnePassFlipsMaps(GoodPCA):
    def _scores_and_maps(self, images: ImageSet):
        for scores, maps in super()._scores_and_maps(images):
            yield scores, maps[:, ::-1]


class FloatRestorations(GoodPCA):
    def _restored_images(self, images: ImageSet) -> np.ndarray:
        return images.images.astype(np.float32)


BROKEN = {
    "presets_exist_and_are_frozen": MutablePresets,
    "score_before_fit_raises": NoFitCheck,
    "fit_returns_self": FitReturnsNone,
    "scores_are_one_finite_float_per_image": ConstantScores,
    "score_does_not_change_state": CountsCalls,
    "scores_do_not_depend_on_batch_or_order": BatchMinMax,
    "save_load_gives_identical_scores": ForgetsOnSave,
    "same_seed_gives_same_scores": IgnoresSeed,
    "anomaly_maps_have_image_size": HalfSizeMaps,
    "scores_with_maps_equal_score_and_maps": OnePassFlipsMaps,
    "restored_images_are_uint8_images": FloatRestorations,
}


def test_every_check_has_a_detector_that_breaks_it():
    assert set(BROKEN) == {check_name(c) for c in CHECKS}


@pytest.mark.parametrize("broken_rule", sorted(BROKEN))
def test_a_broken_rule_fails_its_check_and_only_that_one(broken_rule, tiny_data, tmp_path):
    with pytest.raises(CheckFailed, match=f"failed 1 of {len(CHECKS)} checks:\n- {broken_rule}: "):
        check_detector(BROKEN[broken_rule], data=tiny_data, workdir=tmp_path)


def test_a_detector_keeping_the_contract_passes(tiny_data, tmp_path):
    results = check_detector(GoodPCA, data=tiny_data, workdir=tmp_path)
    assert [r.check for r in results] == [check_name(c) for c in CHECKS]
    assert {r.check: r.outcome for r in results if r.outcome != "passed"} == {
        "restored_images_are_uint8_images": "not applicable"}


def test_bench_testing_imports_without_pytest():
    code = "import sys; sys.modules['pytest'] = None; import bench.testing; print(len(bench.testing.CHECKS))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(len(CHECKS))
