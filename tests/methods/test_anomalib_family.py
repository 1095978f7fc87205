"""`anomalib:<name>`: the static catalog matches anomalib's own model list, names resolve (or say why not), and
family models train and score through the same adapter without leaving files behind."""

from __future__ import annotations

import os

import numpy as np
import pytest

from bench.core import registry
from bench.core.detector import Detector
from bench.core.errors import BenchError
from bench.core.images import TrainData
from bench.methods.anomalib_models import catalog


def test_catalog_lists_exactly_anomalibs_image_models():
    import anomalib.models.image as image_models

    theirs = {getattr(image_models, n).__module__.split(".")[3]: n for n in image_models.__all__}
    ours = {key: info.class_name for key, info in catalog.models().items()}
    assert ours == theirs


def test_listing_shows_every_catalog_model_with_origin_and_setting():
    listed = {e.name: e for e in registry.methods.entries(with_families=True) if e.name.startswith("anomalib:")}
    assert set(listed) == {f"anomalib:{key}" for key in catalog.models()}
    for key, info in catalog.models().items():
        entry = listed[f"anomalib:{key}"]
        assert entry.origin == f"built-in ({catalog.anomalib_origin()})" and not entry.in_all
        assert entry.uses_unlabeled is (None if info.unsupported else False)
        assert ("UNSUPPORTED" in entry.summary) == bool(info.unsupported)
    for name in ("padim", "patchcore", "ganomaly"):
        entry = registry.methods.entry(name)
        assert entry.origin == "built-in" and entry.uses_unlabeled is False and entry.in_all
    assert {"padim", "patchcore", "ganomaly"} <= set(registry.resolve_method_names("all"))
    assert not any(n.startswith("anomalib:") for n in registry.resolve_method_names("all"))


def test_unsupported_models_say_why():
    with pytest.raises(BenchError, match="not supported here: zero-/few-shot CLIP"):
        registry.get_method("anomalib:winclip")


def test_unknown_models_suggest_close_names():
    with pytest.raises(BenchError, match="Did you mean anomalib:stfpm"):
        registry.get_method("anomalib:stfmp")


def test_family_members_are_detectors_with_presets_and_short_names_are_shared():
    stfpm = registry.get_method("anomalib:stfpm")
    assert issubclass(stfpm, Detector) and stfpm.name == "anomalib:stfpm"
    assert {"paper", "fast", "smoke"} <= set(stfpm.presets)
    assert stfpm.presets["smoke"].pretrained is False
    assert registry.get_method("anomalib:padim") is registry.get_method("padim")


def test_model_args_must_name_real_constructor_arguments(small_data, tmp_path):
    detector = registry.get_method("anomalib:dfm").from_preset(
        "smoke", {"model_args": '{"no_such_argument": 1}'}, device="cpu", workdir=tmp_path)
    with pytest.raises(BenchError, match="Dfm has no argument.*no_such_argument.*pooling_kernel_size"):
        detector.fit(TrainData(small_data.split("train_normal")))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["anomalib:dfm", "anomalib:stfpm", "anomalib:fastflow"])
def test_family_models_train_and_score_leaving_no_files_behind(name, small_data, tmp_path, monkeypatch):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    run = tmp_path / "run"
    detector = registry.get_method(name).from_preset("smoke", seed=0, device="cpu", workdir=run)
    detector.fit(TrainData(small_data.split("train_normal")))
    test = small_data.split("test")
    scores = detector.score(test)
    assert scores.shape == (len(test),) and np.isfinite(scores).all()
    assert os.listdir(cwd) == [], "anomalib or Lightning wrote into the working directory"
    assert not run.exists() or os.listdir(run) == [], "the Engine's scratch folder was left in the run folder"
