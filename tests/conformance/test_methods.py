"""The one suite every registered method must pass (in the spirit of scikit-learn's estimator checks).

A method joins by being registered; nothing here is written per method.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from bench import registry
from bench.detector import Detector, ImageSet, TrainData
from bench.errors import NotFittedError
from tests.synthetic_data import LEARNING, TINY, prepare_synthetic

METHODS = registry.methods.names(only_all=True)
MIN_FLOOR = 0.60


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory):
    return prepare_synthetic(tmp_path_factory.mktemp("tiny-synthetic"), **TINY)


@pytest.fixture(scope="module")
def learning_data(tmp_path_factory: pytest.TempPathFactory):
    return prepare_synthetic(tmp_path_factory.mktemp("learning-synthetic"), **LEARNING)


def train_data(prepared, cls: type[Detector]) -> TrainData:
    unlabeled = prepared.split("train_unlabeled").without_labels() if cls.uses_unlabeled else None
    return TrainData(prepared.split("train_normal"), unlabeled)


def build(name: str, seed: int = 0, tmp_path=None) -> Detector:
    cls = registry.get_method(name)
    return cls.from_preset("smoke", seed=seed, device="cpu", workdir=tmp_path)


_fitted: dict[str, Detector] = {}


@pytest.fixture
def fitted(request, tiny, tmp_path_factory) -> Detector:
    """One detector per method fitted on the tiny set, shared by the checks that only read it."""
    name = request.param
    if name not in _fitted:
        detector = build(name, tmp_path=tmp_path_factory.mktemp(f"work-{name.replace(':', '-')}"))
        _fitted[name] = detector.fit(train_data(tiny, type(detector)), val=tiny.split("val"))
    return _fitted[name]


def state_snapshot(detector: Detector) -> dict:
    def copy(value):
        if isinstance(value, torch.Tensor):
            return value.detach().clone()
        if isinstance(value, dict):
            return {k: copy(v) for k, v in value.items()}
        return value

    return copy(detector.state_dict())


def assert_same_state(a, b, path: str = "state") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{path} changed"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f"{path} keys changed"
        for key in a:
            assert_same_state(a[key], b[key], f"{path}.{key}")
    else:
        assert a == b, f"{path} changed"


@pytest.mark.parametrize("name", METHODS)
def test_presets_exist_and_are_frozen(name):
    cls = registry.get_method(name)
    assert {"paper", "fast", "smoke"} <= set(cls.presets)
    config = cls.presets["smoke"]
    with pytest.raises(AttributeError):
        config.__setattr__(next(iter(vars(config))), None)


@pytest.mark.parametrize("name", METHODS)
def test_learning_floor_is_declared_honestly(name):
    cls = registry.get_method(name)
    assert cls.learning_floor >= MIN_FLOOR
    if cls.learning_floor < 0.75:
        assert cls.learning_floor_reason.strip(), "a lowered learning floor needs its reason"


@pytest.mark.parametrize("name", METHODS)
def test_score_before_fit_raises(name, tiny):
    with pytest.raises(NotFittedError):
        build(name).score(tiny.split("test"))


@pytest.mark.parametrize("fitted", METHODS, indirect=True)
def test_fit_returns_self_and_scores_are_one_finite_float_per_image(fitted, tiny):
    test = tiny.split("test")
    scores = fitted.score(test)
    assert scores.shape == (len(test),)
    assert scores.dtype == np.float64
    assert np.isfinite(scores).all()
    assert np.ptp(scores) > 0, "all test images got the same score"


@pytest.mark.parametrize("name", METHODS)
def test_fit_returns_self(name, tiny, tmp_path):
    detector = build(name, tmp_path=tmp_path)
    assert detector.fit(train_data(tiny, type(detector))) is detector


@pytest.mark.parametrize("fitted", METHODS, indirect=True)
def test_score_does_not_change_state(fitted, tiny):
    test = tiny.split("test")
    before = state_snapshot(fitted)
    first = fitted.score(test)
    assert_same_state(before, state_snapshot(fitted))
    np.testing.assert_array_equal(first, fitted.score(test))


@pytest.mark.parametrize("fitted", METHODS, indirect=True)
def test_scores_do_not_depend_on_batch_or_order(fitted, tiny):
    test = tiny.split("test")
    scores = fitted.score(test)
    reverse = np.arange(len(test))[::-1]
    np.testing.assert_allclose(fitted.score(test.subset(reverse))[::-1], scores, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fitted.score(test.subset(slice(0, 3))), scores[:3], rtol=1e-4, atol=1e-6)
    single = fitted.score(test.subset([5]))
    np.testing.assert_allclose(single, scores[5:6], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("fitted", METHODS, indirect=True)
def test_save_load_gives_identical_scores(fitted, tiny, tmp_path):
    path = tmp_path / "detector.pt"
    fitted.save(path)
    restored = type(fitted).load(path, device="cpu")
    test = tiny.split("test")
    np.testing.assert_allclose(restored.score(test), fitted.score(test), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fitted", METHODS, indirect=True)
def test_same_seed_gives_same_scores(fitted, tiny, tmp_path):
    again = build(fitted.name, seed=fitted.seed, tmp_path=tmp_path)
    again.fit(train_data(tiny, type(again)), val=tiny.split("val"))
    test = tiny.split("test")
    np.testing.assert_allclose(again.score(test), fitted.score(test), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fitted", METHODS, indirect=True)
def test_anomaly_maps_have_image_size_when_present(fitted, tiny):
    test = tiny.split("test").subset(slice(0, 4))
    maps = fitted.anomaly_maps(test)
    if maps is None:
        pytest.skip(f"{fitted.name} has no anomaly maps")
    assert maps.shape == (4, *test.size)
    assert np.isfinite(maps).all()


@pytest.mark.slow
@pytest.mark.parametrize("name", METHODS)
def test_learns_to_detect_synthetic_opacities(name, learning_data, tmp_path):
    detector = build(name, tmp_path=tmp_path)
    detector.fit(train_data(learning_data, type(detector)), val=learning_data.split("val"))
    test: ImageSet = learning_data.split("test")
    auc = roc_auc_score(test.labels, detector.score(test))
    assert auc >= detector.learning_floor, f"{name}: AUC {auc:.3f} < {detector.learning_floor}"


@pytest.mark.parametrize("fitted", METHODS, indirect=True)
def test_restored_images_are_uint8_images_when_present(fitted, tiny):
    test = tiny.split("test").subset(slice(0, 3))
    restored = fitted.restored_images(test)
    if restored is None:
        pytest.skip(f"{fitted.name} restores no images")
    assert restored.shape == test.images.shape and restored.dtype == np.uint8
