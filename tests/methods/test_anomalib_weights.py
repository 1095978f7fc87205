"""Pretrained backbone weights: a clear, immediate failure offline; the Hugging Face cache and a local file are used
through timm without network; `pretrained=false` is random; run.json says which weights were used."""

from __future__ import annotations

import huggingface_hub.constants as hf_constants
import pytest
import torch

from bench.core import registry
from bench.core.images import TrainData
from bench.methods.anomalib_models.weights import WeightsUnavailable, sha256

REPO = "timm/resnet18.a1_in1k"  # timm's default pretrained tag for resnet18 (PaDiM's anomalib default)


@pytest.fixture
def empty_offline_hub(tmp_path, monkeypatch):
    """An empty Hugging Face cache and offline mode, whatever the machine running the tests has."""
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


def resnet18_weights(seed: int = 1) -> dict[str, torch.Tensor]:
    """A real resnet18 state dict in timm's format (random values: no download)."""
    import timm

    torch.manual_seed(seed)
    return {k: v.contiguous() for k, v in timm.create_model("resnet18", pretrained=False).state_dict().items()}


def padim(tmp_path, **overrides):
    return registry.get_method("padim").from_preset("smoke", {"pretrained": "true", **overrides}, seed=0,
                                                    device="cpu", workdir=tmp_path / "run")


def first_conv(detector) -> torch.Tensor:
    return detector.module_.model.feature_extractor.feature_extractor.conv1.weight.detach()


def test_missing_weights_fail_at_once_naming_them_and_the_ways_to_provide_them(small_data, tmp_path, empty_offline_hub):
    with pytest.raises(WeightsUnavailable) as caught:
        padim(tmp_path).fit(TrainData(small_data.split("train_normal")))
    message = str(caught.value)
    for expected in ("resnet18", REPO, "HF_HUB_OFFLINE", "HF_HOME", "--set backbone_weights=PATH",
                     "--set pretrained=false"):
        assert expected in message
    run = tmp_path / "run"
    assert not run.exists() or not any(run.iterdir()), "a failed build leaves nothing in the run folder"


def test_weights_in_the_hugging_face_cache_are_loaded_offline_and_recorded(small_data, tmp_path, empty_offline_hub):
    from safetensors.torch import save_file

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo_dir = empty_offline_hub / f"models--{REPO.replace('/', '--')}"
    (repo_dir / "snapshots" / commit).mkdir(parents=True)
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(commit)
    weights_file = repo_dir / "snapshots" / commit / "model.safetensors"
    state = resnet18_weights()
    save_file(state, weights_file)

    detector = padim(tmp_path).fit(TrainData(small_data.split("train_normal")))

    assert torch.equal(first_conv(detector), state["conv1.weight"])
    (record,) = detector.run_info()["pretrained_weights"]
    assert record["timm_model"] == "resnet18"
    assert REPO in record["source"]
    assert record["sha256"] == sha256(weights_file)


def test_a_local_weights_file_is_used_and_recorded(small_data, tmp_path, empty_offline_hub):
    from safetensors.torch import save_file

    state = resnet18_weights(seed=2)
    path = tmp_path / "resnet18.safetensors"
    save_file(state, path)
    detector = padim(tmp_path, backbone_weights=str(path)).fit(TrainData(small_data.split("train_normal")))

    assert torch.equal(first_conv(detector), state["conv1.weight"])
    (record,) = detector.run_info()["pretrained_weights"]
    assert record["file"] == str(path) and record["sha256"] == sha256(path)


def test_a_weights_file_for_another_architecture_is_a_clear_error(small_data, tmp_path, empty_offline_hub):
    path = tmp_path / "not-resnet18.pth"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, path)
    with pytest.raises(WeightsUnavailable, match="does not hold weights for 'resnet18'"):
        padim(tmp_path, backbone_weights=str(path)).fit(TrainData(small_data.split("train_normal")))


def test_pretrained_false_builds_a_random_backbone_and_says_so(small_data, tmp_path, empty_offline_hub):
    detector = padim(tmp_path, pretrained="false").fit(TrainData(small_data.split("train_normal")))
    (record,) = detector.run_info()["pretrained_weights"]
    assert record == {"timm_model": "resnet18", "source": "random initialisation (pretrained=false)"}


def test_torchvision_backbones_refuse_pretrained_false_instead_of_loading_imagenet_weights(small_data, tmp_path):
    detector = registry.get_method("anomalib:cfa").from_preset("smoke", device="cpu", workdir=tmp_path / "run")
    with pytest.raises(WeightsUnavailable, match="no random-backbone mode, so pretrained=false cannot apply"):
        detector.fit(TrainData(small_data.split("train_normal")))
