"""The accelerated GAN path on CPU (`--set accel=on`): bf16 autocast, channels_last and torch.compile (inductor)
for both GANs, against plain fp32 eager from the same weights. Every training test runs twice per GAN: with bf16
+ channels_last in eager mode, and with all three features (marked slow: inductor compiles C++ for about a minute
per GAN on a cold cache, seconds on a warm one; the compiled models are shared by the module's tests).

Tolerances, measured on these tiny runs: one step's losses agree with fp32 eager to 0.1% and its gradients to
a cosine of 0.99 (D) and 0.93 (G; see MIN_COSINE); after 24 iterations the scores (mean |x - x'| / 2, about
0.08-0.2 here) differ by at most 0.005 from the fp32 eager run's (stated bound: SCORE_ATOL = 0.02, ranks
correlated 0.9 or more).
"""

from __future__ import annotations

import csv
import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from bench.core.detector import Detector
from bench.core.errors import BenchError
from bench.core.images import ImageSet, TrainData
from bench.core.progress import Progress
from bench.methods._gan import Accel, DeviceSampler, gradient_penalty
from bench.methods._gan.networks import Critic
from bench.methods.healthygan.detector import HealthyGANDetector
from bench.methods.sagan.detector import SAGANDetector

pytestmark = pytest.mark.xdist_group("gan-accel")  # one worker trains (and compiles) the shared models (make test)
# G's gradient is the less exact: L1 terms flip sign where bf16 rounds x - x' across zero, and HealthyGAN's focus
# loss, 1 / (|M - 0.5| + 0.01), is steepest at the initial mask M ~ 0.5 (measured: D 0.996-0.9997, G 0.93-0.95).
MIN_COSINE = {"D": 0.99, "G": 0.85}
SCORE_ATOL = 0.02  # stated bound on |score(accel=on) - score(accel=off)| after 24 iterations from the same weights
MIN_RANK_CORRELATION = 0.9
TINY = {"g_conv_dim": "4", "g_res_blocks": "1", "d_conv_dim": "4", "batch_size": "4", "iterations": "24",
        "checkpoint_every": "12", "log_every": "4", "selection": "last"}
GANS: dict[str, tuple[type[Detector], dict[str, str]]] = {
    "healthygan": (HealthyGANDetector, {**TINY, "image_size": "16"}),
    "sagan": (SAGANDetector, {**TINY, "image_size": "32"}),  # 8 x n_patches divides the size
}
EAGER_ON = {"accel": "on", "amp": "true", "channels_last": "true", "compile": "false"}
ALL_ON = {**EAGER_ON, "compile": "true"}
OFF = {"accel": "off"}
VARIANTS = [pytest.param((name, "eager"), id=f"{name}-bf16-channels_last") for name in GANS] + [
    pytest.param((name, "compiled"), id=f"{name}-bf16-channels_last-compile", marks=pytest.mark.slow) for name in GANS]


def make_detector(name: str, features: dict[str, str], workdir: Path | None = None,
                  progress: Progress | None = None) -> Detector:
    cls, overrides = GANS[name]
    return cls.from_preset("smoke", {**overrides, **features}, seed=5, device="cpu", workdir=workdir,
                           progress=progress)


def train_data(prepared) -> TrainData:
    return TrainData(prepared.split("train_normal"), prepared.split("train_unlabeled").without_labels())


def logged_losses(workdir: Path) -> list[dict[str, float]]:
    with (workdir / "losses.csv").open() as f:
        return [{k: float(v) for k, v in row.items() if v != ""} for row in csv.DictReader(f)]


# --- the switch ------------------------------------------------------------------------------------------------

def test_auto_keeps_cpu_fp32_eager_and_on_applies_every_feature():
    auto = Accel.for_device("cpu", amp=True, channels_last=True, compile=True)
    on = Accel.for_device("cpu", amp=True, channels_last=True, compile=True, mode="on")
    assert (auto.amp, auto.channels_last, auto.compile) == (False, False, False)
    assert (on.amp, on.channels_last, on.compile) == (True, True, True)
    assert on.info() == {"device": "cpu", "amp": "bf16", "channels_last": True, "compile": True, "accel": "on"}


def test_off_is_plain_fp32_eager_even_on_cuda():
    off = Accel.for_device("cuda", amp=True, channels_last=True, compile=True, mode="off")
    assert (off.amp, off.channels_last, off.compile) == (False, False, False)


def test_on_keeps_a_feature_the_preset_switches_off():
    accel = Accel.for_device("cpu", amp=False, channels_last=True, compile=False, mode="on")
    assert (accel.amp, accel.channels_last, accel.compile) == (False, True, False)


@pytest.mark.parametrize("name", list(GANS))
def test_accel_is_a_setting_with_three_values(name):
    cls, _ = GANS[name]
    assert cls.preset("paper").accel == "auto"
    assert cls.preset("paper", {"accel": "on"}).accel == "on"
    with pytest.raises(BenchError, match="auto, on, off"):
        cls.preset("paper", {"accel": "fast"})


def test_cpu_autocast_runs_convolutions_in_bf16():
    accel = Accel.for_device("cpu", mode="on")
    conv = torch.nn.Conv2d(1, 2, 3)
    with accel.autocast():
        assert conv(torch.zeros(1, 1, 8, 8)).dtype == torch.bfloat16


def test_gradient_penalty_is_float32_under_bf16_autocast():
    torch.manual_seed(0)
    critic = Critic(1, 8, 3, init="he")
    real, fake = torch.rand(6, 1, 16, 16) * 2 - 1, torch.rand(6, 1, 16, 16) * 2 - 1
    alpha = torch.rand(6)
    reference = gradient_penalty(critic, real, fake, alpha)
    accel = Accel.for_device("cpu", mode="on")
    with accel.autocast():
        assert critic(real).dtype == torch.bfloat16  # the critic itself does run in bf16
        penalty = gradient_penalty(critic, accel.images(real), accel.images(fake), alpha)
    assert penalty.dtype == torch.float32
    assert penalty.item() == pytest.approx(reference.item(), rel=0.05)


# --- one step against fp32 eager from the same weights -----------------------------------------------------------

def step_gradients(name: str, features: dict[str, str], batch_images: torch.Tensor) -> dict[str, object]:
    """Losses and flattened gradients of one D step and one G step of `name`'s real steps, from seed-0
    weights on `batch_images`, with `features` (the loop's autocast and memory format)."""
    cls, overrides = GANS[name]
    config = cls.preset("smoke", {**overrides, **features})
    size = int(overrides["image_size"])
    torch.manual_seed(0)
    generator, critic = cls.recipe.build_networks(config, size)
    accel = Accel.for_device("cpu", amp=config.amp, channels_last=config.channels_last, compile=config.compile,
                             mode=config.accel)
    for module in (generator, critic):
        accel.prepare(module).train()
    keys = cls.recipe.set_keys
    sampler = DeviceSampler({keys[0]: batch_images[:8], keys[1]: batch_images[8:]}, 4, seed=0, channels=1)
    steps = cls.recipe.make_steps(generator, critic, config, accel, sampler)
    batch = {k: accel.images(v) for k, v in sampler.sample().items()}
    out: dict[str, object] = {}
    for which, module, run in (("D", critic, lambda: steps.d_step(batch, g_step_follows=True)),
                               ("G", generator, lambda: steps.g_step(batch))):
        torch.manual_seed(1)
        module.zero_grad(set_to_none=True)
        with accel.autocast():
            losses = run()
        losses["loss"].backward()
        out[which] = float(losses["loss"].detach())
        out[f"grad_{which}"] = torch.cat([p.grad.flatten().float() for p in module.parameters()])
    return out


@pytest.mark.parametrize("name", list(GANS))
def test_one_step_under_bf16_and_channels_last_matches_fp32_eager(name):
    images = torch.randint(0, 256, (16, 1, 64, 64), dtype=torch.uint8, generator=torch.Generator().manual_seed(3))
    on, off = step_gradients(name, EAGER_ON, images), step_gradients(name, OFF, images)
    for which in ("D", "G"):
        assert math.isfinite(on[which])
        assert on[which] == pytest.approx(off[which], rel=0.02, abs=0.02), which
        cosine = torch.nn.functional.cosine_similarity(on[f"grad_{which}"], off[f"grad_{which}"], dim=0)
        assert cosine > MIN_COSINE[which], f"{which} gradients under bf16 + channels_last point elsewhere " \
                                           f"(cosine {cosine:.3f})"


# --- training, resume, scores, save / load -------------------------------------------------------------------------

@dataclasses.dataclass
class Trained:
    name: str
    features: dict[str, str]  # the accelerated run's settings
    on: Detector
    off: Detector
    workdir: Path
    test: ImageSet


@pytest.fixture(scope="module")
def fp32_runs(small_data) -> dict[str, Detector]:
    """Each GAN trained for 24 iterations in plain fp32 eager (the reference), built when first asked for."""
    return {}


@pytest.fixture(scope="module", params=VARIANTS)
def trained(request, small_data, fp32_runs, tmp_path_factory) -> Trained:
    """A GAN trained for 24 iterations with the variant's features and (shared) in fp32, from the same weights."""
    name, variant = request.param
    features = ALL_ON if variant == "compiled" else EAGER_ON
    workdir = tmp_path_factory.mktemp(f"{name}-{variant}")
    data = train_data(small_data)
    on = make_detector(name, features, workdir).fit(data)
    if name not in fp32_runs:
        fp32_runs[name] = make_detector(name, OFF).fit(data)
    return Trained(name, features, on, fp32_runs[name], workdir, small_data.split("test"))


def test_accelerated_training_logs_finite_losses(trained):
    rows = logged_losses(trained.workdir)
    assert len(rows) == 24 // 4 and {"D", "G", "gp"} <= set(rows[-1])
    assert all(math.isfinite(v) for row in rows for v in row.values())
    assert trained.on.train_info_["divergences"] == []


def test_run_info_records_what_ran(trained):
    compiled = trained.features["compile"] == "true"
    assert trained.on.run_info()["training"]["accel"] == {"device": "cpu", "amp": "bf16", "channels_last": True,
                                                          "compile": compiled, "accel": "on"}
    assert trained.off.run_info()["training"]["accel"]["amp"] == "fp32"


def test_scores_stay_within_the_stated_tolerance_of_fp32_eager(trained):
    on, off = trained.on.score(trained.test), trained.off.score(trained.test)
    assert not np.array_equal(on, off)  # bf16 really changed the arithmetic
    np.testing.assert_allclose(on, off, rtol=0, atol=SCORE_ATOL)
    assert spearmanr(on, off).statistic >= MIN_RANK_CORRELATION


def test_a_bf16_trained_detector_loads_and_scores_in_plain_fp32(trained, tmp_path):
    assert not any(key.startswith("_orig_mod") for key in trained.on.state_dict()["generator"])
    trained.on.save(tmp_path / "detector.pt")
    loaded = type(trained.on).load(tmp_path / "detector.pt", device="cpu")
    plain = type(trained.on)(dataclasses.replace(loaded.config, **{"accel": "off"}), device="cpu")
    plain.load_state_dict(trained.on.state_dict())
    plain.fitted_ = True
    for detector in (loaded, plain):
        assert all(p.dtype == torch.float32 for p in detector.generator_.parameters())
        assert not isinstance(detector.generator_, torch._dynamo.eval_frame.OptimizedModule)
        np.testing.assert_array_equal(detector.score(trained.test), trained.on.score(trained.test))


def test_a_cut_run_resumes_exactly_under_the_same_features(trained, small_data, tmp_path, interrupt_at):
    with pytest.raises(KeyboardInterrupt):
        make_detector(trained.name, trained.features, tmp_path, progress=interrupt_at(18)).fit(train_data(small_data))
    resumed = make_detector(trained.name, trained.features, tmp_path).fit(train_data(small_data))
    assert resumed.train_info_["resumed_from"] == 12
    for (key, a), b in zip(resumed.generator_.state_dict().items(), trained.on.generator_.state_dict().values(),
                           strict=True):
        assert torch.equal(a, b), key
    np.testing.assert_array_equal(resumed.score(trained.test), trained.on.score(trained.test))


def test_a_checkpoint_of_other_features_is_not_resumed(trained, small_data, tmp_path, interrupt_at):
    """A run folder trained with accel=on does not continue under accel=off (its weights took another path)."""
    with pytest.raises(KeyboardInterrupt):
        make_detector(trained.name, trained.features, tmp_path, progress=interrupt_at(18)).fit(train_data(small_data))
    with pytest.raises(BenchError, match="another configuration"):
        make_detector(trained.name, OFF, tmp_path).fit(train_data(small_data))


def test_fp32_path_is_unchanged_by_the_switch(small_data):
    """accel=auto on CPU is accel=off exactly (today's CPU behaviour)."""
    name = "healthygan"
    data = train_data(small_data)
    test = small_data.split("test")
    auto = make_detector(name, {"accel": "auto", "amp": "true", "channels_last": "true"}).fit(data)
    off = make_detector(name, OFF).fit(data)
    np.testing.assert_array_equal(auto.score(test), off.score(test))
