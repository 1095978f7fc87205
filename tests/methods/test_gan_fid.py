"""FID: the arithmetic against hand-computed values, the selection logic with a small local feature extractor,
and pytorch-fid's Inception path with a local (random-weights) file: cached, downloaded once (file:// URL, hash-checked)
or refused at once offline."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from bench.core.downloads import sha256
from bench.core.errors import BenchError
from bench.methods._gan import FIDSelector, InceptionFeatures, fid, fid_from_features, frechet_distance
from bench.methods._gan.fid import WEIGHTS_FILE, check_weights


def test_frechet_distance_hand_computed():
    # ||mu1 - mu2||^2 = 1 + 4 = 5; Tr(I + 4I - 2 sqrt(4I)) = 2 + 8 - 8 = 2
    value = frechet_distance(np.zeros(2), np.eye(2), np.array([1.0, 2.0]), 4 * np.eye(2))
    assert value == pytest.approx(7.0, abs=1e-9)


def test_fid_from_features_uses_sample_mean_and_covariance():
    a = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])  # mean (1, 1), covariance 4/3 I (ddof 1)
    b = 2 * a + 4  # mean (6, 6), covariance 16/3 I
    expected = 50 + 2 * (4 / 3 + 16 / 3 - 2 * np.sqrt(64 / 9))
    assert fid_from_features(a, b) == pytest.approx(expected, abs=1e-6)
    assert fid_from_features(a, a) == pytest.approx(0.0, abs=1e-6)


def test_fid_selector_prefers_translations_closer_to_the_healthy_set(small_fid_features):
    generator = torch.Generator().manual_seed(0)
    healthy = torch.rand(40, 1, 8, 8, generator=generator) * 0.5
    mixed = torch.rand(40, 1, 8, 8, generator=generator) * 0.5 + 0.4  # brighter than healthy
    offset = {"value": 0.0}
    selector = FIDSelector(lambda x: x - offset["value"], mixed, healthy, small_fid_features, batch_size=16)
    far = selector.evaluate()
    offset["value"] = 0.4  # the translation now undoes the brightening
    near = selector.evaluate()
    assert near < far and not selector.higher_is_better


def random_fid_inception_state() -> dict[str, torch.Tensor]:
    """A state dict with the layout of pytorch-fid's FID Inception (random weights, for tests only)."""
    from pytorch_fid import inception as fid

    net = fid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fid.FIDInceptionE_1(1280)
    net.Mixed_7c = fid.FIDInceptionE_2(2048)
    return net.state_dict()


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory) -> object:
    path = tmp_path_factory.mktemp("inception") / "weights.pth"
    torch.manual_seed(0)
    torch.save(random_fid_inception_state(), path)
    return path


def test_missing_inception_weights_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BenchError, match="fid_weights=PATH"):
        check_weights(None)
    with pytest.raises(BenchError, match="does not exist"):
        check_weights(tmp_path / "nope.pth")


def test_inception_features_from_a_local_weights_file(inception_file, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))  # nothing in the cache: the file is used
    features = InceptionFeatures("cpu", weights=inception_file)
    out = features(torch.rand(2, 1, 32, 32) * 2 - 1)
    assert out.shape == (2, 2048) and torch.isfinite(out).all()


def test_inception_features_from_the_hub_cache(inception_file, tmp_path, monkeypatch):
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    (checkpoints / WEIGHTS_FILE).write_bytes(inception_file.read_bytes())
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    assert InceptionFeatures("cpu").weights == checkpoints / WEIGHTS_FILE


# --- fetched once where the network allows, hash-checked; offline fails at once ------------------------------------

def test_offline_missing_weights_fail_at_once_naming_the_reason(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(BenchError, match=r"offline mode is on \(HF_HUB_OFFLINE=1\).*fid_weights=PATH"):
        check_weights(None)
    assert time.perf_counter() - start < 1.0
    assert not (tmp_path / "hub").exists()


def test_an_unreachable_host_fails_at_once(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(fid, "WEIGHTS_URL", "http://127.0.0.1:9/pt_inception.pth")  # nothing listens on port 9
    with pytest.raises(BenchError, match="cannot be downloaded now"):
        check_weights(None)
    assert not (tmp_path / "hub").exists()


def serve_from(monkeypatch, source, sha256_prefix: str) -> None:
    """Point the weights' download at a local file (a file:// URL goes through the same urllib download)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(fid, "WEIGHTS_URL", source.resolve().as_uri())
    monkeypatch.setattr(fid, "WEIGHTS_SHA256_PREFIX", sha256_prefix)


def test_missing_weights_are_downloaded_once_into_the_hub_cache(inception_file, tmp_path, monkeypatch):
    source = tmp_path / "served.pth"
    source.write_bytes(inception_file.read_bytes())
    serve_from(monkeypatch, source, sha256(source)[:8])
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    cached = tmp_path / "home" / "hub" / "checkpoints" / WEIGHTS_FILE
    assert check_weights(None) == cached and cached.read_bytes() == source.read_bytes()
    source.unlink()  # the second time reads the cache and never the network
    assert InceptionFeatures("cpu").weights == cached


def test_a_download_with_another_hash_is_not_kept(inception_file, tmp_path, monkeypatch):
    digest = sha256(inception_file)
    wrong = "0" * 8 if not digest.startswith("0" * 8) else "f" * 8
    serve_from(monkeypatch, inception_file, wrong)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "home"))
    with pytest.raises(BenchError, match="not the expected one"):
        check_weights(None)
    checkpoints = tmp_path / "home" / "hub" / "checkpoints"
    assert not checkpoints.exists() or not any(checkpoints.iterdir())  # no partial or unchecked file left


def test_the_expected_hash_is_the_prefix_in_pytorch_fids_file_name():
    from pytorch_fid.inception import FID_WEIGHTS_URL

    assert FID_WEIGHTS_URL.endswith(WEIGHTS_FILE)
    assert WEIGHTS_FILE.removesuffix(".pth").rsplit("-", 1)[1] == fid.WEIGHTS_SHA256_PREFIX
