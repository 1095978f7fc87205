"""SAGAN's training on the shared GAN loop: exact batching, loss terms, resume, outputs in the run folder,
ablation switches and test-time gating. Tiny networks on a few synthetic chest images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.core.errors import BenchError
from bench.core.images import ImageSet, TrainData
from bench.core.progress import Progress
from bench.datasets.synthetic_images import generate
from bench.methods._gan import Accel, DeviceSampler, to_unit_range
from bench.methods._gan.networks import Critic
from bench.methods.sagan.detector import SAGANDetector
from bench.methods.sagan.networks import SAGANGenerator
from bench.methods.sagan.pseudo_anomaly import make_pseudo_anomalies, other_indices
from bench.methods.sagan.trainer import SAGANSteps, build_networks

TINY = {"image_size": 32, "g_conv_dim": 4, "g_res_blocks": 1, "d_conv_dim": 4, "batch_size": 4,
        "iterations": 6, "checkpoint_every": 3, "log_every": 1}


def chest_images(n: int, abnormal: bool, seed: int = 0, size: int = 64) -> ImageSet:
    pixels = np.stack([generate(seed * 1000 + i, size, abnormal)[0] for i in range(n)])[:, None]
    return ImageSet(pixels, np.full(n, int(abnormal)), np.array([f"{seed}-{abnormal}-{i}" for i in range(n)]))


@pytest.fixture(scope="module")
def train_data() -> TrainData:
    unlabeled = ImageSet.concatenate([chest_images(4, False, 1), chest_images(4, True, 2)]).without_labels()
    return TrainData(chest_images(8, False, 3), unlabeled)


def tiny_detector(workdir: Path | None = None, progress: Progress | None = None, **overrides) -> SAGANDetector:
    return SAGANDetector.from_preset("smoke", {**TINY, **overrides}, seed=0, device="cpu", workdir=workdir,
                                     progress=progress)


def generator_weights(detector: SAGANDetector) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in detector.generator_.state_dict().items()}


def test_one_generator_pass_on_three_batches_equals_three_passes():
    g = SAGANGenerator(base=4).eval()
    parts = [torch.rand(3, 1, 32, 32, generator=torch.Generator().manual_seed(i)) * 2 - 1 for i in range(3)]
    together = g(torch.cat(parts))
    # Batched convolutions may pick other CPU kernels (e.g. with one thread): float32 round-off, not leakage.
    torch.testing.assert_close(together, torch.cat([g(p) for p in parts]), rtol=1e-4, atol=1e-4)


def test_critic_is_the_shared_patchgan_with_a_one_by_one_output_at_64_px():
    config = SAGANDetector.preset("paper")
    _, critic = build_networks(config, 64)
    assert isinstance(critic, Critic)
    assert critic(torch.zeros(2, 1, 64, 64)).shape == (2, 1, 1, 1)


def tiny_steps(normal_set: torch.Tensor, batch_size: int = 4, **overrides) -> tuple[SAGANSteps, DeviceSampler]:
    """SAGAN's steps on smoke-TINY networks with a sampler over `normal_set` (uint8) as the normal set."""
    config = SAGANDetector.preset("smoke", {**TINY, **overrides})
    generator, critic = build_networks(config, 32)
    sampler = DeviceSampler({"U": normal_set[:8], "N": normal_set}, batch_size, seed=0, channels=1)
    return SAGANSteps(generator, critic, config, Accel.for_device("cpu"), sampler), sampler


def uint8_images(n: int, size: int = 32) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(n))


@pytest.mark.parametrize("pseudo_anomalies", [True, False])
def test_generator_step_has_the_restoration_term_only_with_pseudo_anomalies(pseudo_anomalies):
    steps, sampler = tiny_steps(uint8_images(12), pseudo_anomalies=pseudo_anomalies)
    batch = sampler.sample()
    d_losses = steps.d_step(batch, g_step_follows=True)
    assert steps._kept.shape[0] == (12 if pseudo_anomalies else 8)
    g_losses = steps.g_step(batch)
    assert ("g_rec" in g_losses) == pseudo_anomalies
    assert torch.isfinite(d_losses["loss"]) and torch.isfinite(g_losses["loss"])


def test_pseudo_anomaly_sources_are_other_images_of_the_whole_normal_set():
    normal_set = uint8_images(40)
    steps, sampler = tiny_steps(normal_set)
    outside_batch = 0
    for _ in range(25):
        batch = sampler.sample()
        own = sampler.last_indices["N"]
        state = sampler.generator.get_state()
        torch.manual_seed(1)
        made = steps._pseudo_anomalies(batch["N"])
        # The same draws by hand: source indices from the sampler's generator, boxes from the global RNG.
        sampler.generator.set_state(state)
        index = other_indices(own, len(normal_set), sampler.generator)
        torch.manual_seed(1)
        expected = make_pseudo_anomalies(batch["N"], sources=to_unit_range(normal_set[index], 1)).images
        assert torch.equal(made, expected)
        assert not (index == own).any()
        outside_batch += int((~torch.isin(index, own)).sum())
    assert outside_batch > 0.8 * 25 * 4  # 4 of 40 images are in a batch: most sources come from outside it


def test_pseudo_anomalies_need_the_sampler():
    config = SAGANDetector.preset("smoke", TINY)
    with pytest.raises(ValueError, match="sampler"):
        SAGANSteps(*build_networks(config, 32), config, Accel.for_device("cpu"))


def test_fit_writes_checkpoints_loss_log_and_sample_grid(train_data, tmp_path):
    detector = tiny_detector(tmp_path).fit(train_data)
    assert (tmp_path / "checkpoints" / "last.pt").is_file()
    assert (tmp_path / "samples.png").stat().st_size > 0
    header = (tmp_path / "losses.csv").read_text().splitlines()[0].split(",")
    assert {"iteration", "D", "G", "g_adv", "g_id", "g_rec", "gp"} <= set(header)
    assert detector.run_info()["training"]["iterations"] == TINY["iterations"]


def test_interrupted_fit_resumes_to_the_same_weights(train_data, tmp_path, interrupt_at):
    uninterrupted = generator_weights(tiny_detector(tmp_path / "a").fit(train_data))
    with pytest.raises(KeyboardInterrupt):
        tiny_detector(tmp_path / "b", progress=interrupt_at(4)).fit(train_data)  # after the checkpoint at 3
    resumed = tiny_detector(tmp_path / "b").fit(train_data)
    assert resumed.run_info()["training"]["resumed_from"] == 3
    for name, value in generator_weights(resumed).items():
        torch.testing.assert_close(value, uninterrupted[name], rtol=0, atol=0, msg=name)


@pytest.mark.parametrize("switches", [{"acm": False}, {"arrm": False}, {"acm": False, "arrm": False},
                                      {"pseudo_anomalies": False}])
def test_ablation_switches_train_and_score(train_data, switches):
    detector = tiny_detector(**{k: str(v).lower() for k, v in switches.items()}).fit(train_data)
    scores = detector.score(train_data.normal)
    assert np.isfinite(scores).all()
    assert detector.generator_.acm == switches.get("acm", True)
    assert detector.generator_.arrm == switches.get("arrm", True)


def test_scores_are_deterministic_unless_gate_at_test(train_data):
    detector = tiny_detector().fit(train_data)
    images = train_data.normal
    np.testing.assert_array_equal(detector.score(images), detector.score(images))
    detector.generator_.gate_at_test = True
    assert not np.array_equal(detector.score(images), detector.score(images))


def test_image_size_must_fit_the_patch_grid(train_data):
    with pytest.raises(BenchError, match="multiple of 16"):
        tiny_detector(image_size="40").fit(train_data)


def test_fit_without_unlabeled_images_is_a_clear_error(train_data):
    with pytest.raises(BenchError, match="unlabeled"):
        tiny_detector().fit(TrainData(train_data.normal, None))
