"""ALOCC against khalooei/ALOCC-CVPR2018 (TensorFlow 1, cannot run here): the networks' layer lists and parameter
counts counted by hand from `models.py` / `ops.py`, the losses and the scores against their formulas on fixed
tensors, and the training loop's 2 R updates per D update."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from bench.methods._gan import Accel, DeviceSampler, GANLoop, LoopSettings
from bench.methods._gan.networks import count_parameters
from bench.methods.alocc.detector import ALOCCDetector
from bench.methods.alocc.losses import add_noise, anomaly_score, d_loss, g_loss, refinement
from bench.methods.alocc.networks import Discriminator, Refiner
from bench.methods.alocc.presets import PRESETS
from bench.methods.alocc.trainer import NORMAL, ALOCCSteps, tf_rmsprop
from bench.testing import TINY_DATA, synthetic_data, train_data

# Hand counts from models.py with gf_dim = df_dim = 16, c_dim = 1 (ops.conv2d / deconv2d: 5x5 kernel + bias;
# batch_norm: scale + offset):
# R encoder: conv 1->32 (25*32 + 32 = 832) + BN 64, conv 32->64 (51,264) + BN 128, conv 64->128 (204,928) + BN 256
# R decoder: deconv 128->32 (102,432) + BN 64, deconv 32->16 (12,816) + BN 32, deconv 16->1 (401)   => R 373,217
# D: conv 1->16 (416), conv 16->32 (12,832) + BN 64, conv 32->64 (51,264) + BN 128, conv 64->128 (204,928) + BN 256,
#    linear 128*s*s -> 1 with s = ceil(size / 16): 45 px (UCSD patches): 1,153 => 271,041; 64 px: 2,049 => 271,937
R_PARAMS, D_PARAMS_45, D_PARAMS_64 = 373_217, 271_041, 271_937


def test_official_parameter_counts():
    assert count_parameters(Refiner(1, 16, 16)) == R_PARAMS
    assert count_parameters(Discriminator(45, 1, 16)) == D_PARAMS_45
    assert count_parameters(Discriminator(64, 1, 16)) == D_PARAMS_64


def test_official_layer_lists_and_shapes():
    R, D = Refiner(), Discriminator(45)
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in R.encoder] == [
        (1, 32, (5, 5), (2, 2)), (32, 64, (5, 5), (2, 2)), (64, 128, (5, 5), (2, 2))]
    assert [(m.in_channels, m.out_channels) for m in R.decoder] == [(128, 32), (32, 16), (16, 1)]
    assert [(m.in_channels, m.out_channels) for m in D.convs] == [(1, 16), (16, 32), (32, 64), (64, 128)]
    assert isinstance(D.norms[0], torch.nn.Identity)  # h0 has no batch norm
    for side in (28, 45, 64):  # the 'SAME' sizes: the decoder gives back the input's side
        out = Refiner()(torch.rand(2, 1, side, side) * 2 - 1)
        assert out.shape == (2, 1, side, side) and out.abs().max() <= 1
        assert Discriminator(side)(torch.rand(2, 1, side, side)).shape == (2,)


def test_losses_against_their_formulas():
    logit_real, logit_fake = torch.tensor([2.0, -1.0]), torch.tensor([0.5, 3.0])

    def softplus(v):
        return math.log1p(math.exp(v))

    # BCE(D(x), 1) = softplus(-l), BCE(D(R), 0) = softplus(l)
    expected_d = (softplus(-2.0) + softplus(1.0)) / 2 + (softplus(0.5) + softplus(3.0)) / 2
    torch.testing.assert_close(d_loss(logit_real, logit_fake), torch.tensor(expected_d))
    refined, noisy, clean = torch.tensor([0.5, -0.5]), torch.tensor([0.2, -1.0]), torch.tensor([0.0, -0.8])
    # TF's sigmoid_cross_entropy_with_logits: max(l, 0) - l z + log(1 + exp(-|l|)), labels outside [0, 1] allowed
    code = sum(max(r, 0) - r * z + math.log1p(math.exp(-abs(r))) for r, z in ((0.5, 0.2), (-0.5, -1.0))) / 2
    torch.testing.assert_close(refinement(refined, noisy, clean, "code"), torch.tensor(code))
    torch.testing.assert_close(refinement(refined, noisy, clean, "paper"), torch.tensor((0.25 + 0.09) / 2))
    total, adversarial, rec = g_loss(logit_fake, refined, noisy, clean, r_alpha=0.2)
    torch.testing.assert_close(adversarial, torch.tensor((softplus(-0.5) + softplus(-3.0)) / 2))
    torch.testing.assert_close(total, adversarial + 0.2 * torch.tensor(code))


def test_noise_and_score():
    torch.manual_seed(0)
    x = torch.zeros(20000)
    noisy = add_noise(x, 0.155)
    assert abs(noisy.std().item() - 0.155) < 0.005 and noisy.abs().max() <= 1
    assert add_noise(torch.ones(100), 0.155).max() <= 1  # clipped to the image range, as skimage's random_noise
    logits = torch.tensor([40.0, 0.0, -3.0])
    torch.testing.assert_close(anomaly_score(logits), 1 - torch.sigmoid(logits.double()))
    assert anomaly_score(logits)[0] > 0  # no saturation: D(R(x)) near 1 still ranks


def test_two_refiner_updates_per_discriminator_update():
    torch.manual_seed(0)
    config = PRESETS["tiny"]
    R, D = Refiner(), Discriminator(16)
    sampler = DeviceSampler({NORMAL: torch.randint(0, 256, (16, 1, 16, 16), dtype=torch.uint8)}, 8, seed=0,
                            channels=1)
    steps = ALOCCSteps(R, D, config, Accel.for_device("cpu"))
    loop = GANLoop(steps, sampler, LoopSettings(iterations=10, n_critic=1), accel=Accel.for_device("cpu"),
                   folder=None, identity="t")
    loop.train_step(sampler.sample())
    step_count = [s["step"].item() for s in steps.optimizers["G"].state.values()][0]
    d_count = [s["step"].item() for s in steps.optimizers["D"].state.values()][0]
    assert (step_count, d_count) == (2, 1)


@pytest.mark.parametrize("score", ["d_r_x", "d_x"])
def test_detector_records_its_score_and_sizes(tmp_path, score):
    data = synthetic_data(tmp_path / "data", TINY_DATA)
    config = dataclasses.replace(PRESETS["tiny"], score=score)
    detector = ALOCCDetector(config, device="cpu", workdir=tmp_path / "run").fit(train_data(data, ALOCCDetector))
    info = detector.run_info()["training"]
    assert info["score"].startswith("1 - D(R(x))" if score == "d_r_x" else "1 - D(x)")
    assert info["parameters"] == {"R": count_parameters(Refiner()), "D": count_parameters(Discriminator(16))}
    assert info["iterations"] == {"d_steps": 6, "r_steps": 12} and info["resolution"]["image_size"] == 16
    test = data.split("test")
    x = F.interpolate(torch.from_numpy(test.images[:4]).float(), size=16, mode="bilinear", antialias=True)
    x = x.round().clamp(0, 255) / 127.5 - 1
    with torch.no_grad():
        expected = 1 - torch.sigmoid(detector.critic_(detector.generator_(x) if score == "d_r_x" else x).double())
    torch.testing.assert_close(torch.from_numpy(detector.score(test)[:4]), expected, atol=1e-6, rtol=1e-5)


def test_rmsprop_mean_square_starts_at_one_as_tf1():
    # tf.train.RMSPropOptimizer creates its "rms" slot with ones: the first step is lr g / sqrt(0.9 + 0.1 g^2)
    # (torch's default, zeros, would give lr g / sqrt(0.1 g^2) = 3.16 lr sign(g)).
    layer = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    optimizer = tf_rmsprop(layer, lr=0.002)
    layer(torch.tensor([[0.5]])).sum().backward()  # gradient 0.5
    optimizer.step()
    expected = 1.0 - 0.002 * 0.5 / (math.sqrt(0.9 + 0.1 * 0.25) + 1e-10)
    assert layer.weight.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("decay", [0.0, 1.0])
def test_ema_copies_follow_the_decay(decay):
    torch.manual_seed(0)
    config = dataclasses.replace(PRESETS["tiny"], ema_decay=decay)
    R, D = Refiner(), Discriminator(16)
    initial = {"R": copy.deepcopy(R.state_dict()), "D": copy.deepcopy(D.state_dict())}
    sampler = DeviceSampler({NORMAL: torch.randint(0, 256, (16, 1, 16, 16), dtype=torch.uint8)}, 8, seed=0,
                            channels=1)
    steps = ALOCCSteps(R, D, config, Accel.for_device("cpu"))
    assert steps.best_modules == ("R_ema", "D_ema")
    loop = GANLoop(steps, sampler, LoopSettings(iterations=10, n_critic=1), accel=Accel.for_device("cpu"),
                   folder=None, identity="t")
    loop.train_step(sampler.sample())
    for name, live in (("R", R), ("D", D)):
        average = steps.ema[f"{name}_ema"]
        target = dict(live.named_parameters()) if decay == 0.0 else initial[name]
        for key, value in average.named_parameters():  # buffers are copied at each step of the network's optimiser
            torch.testing.assert_close(value, target[key], msg=f"{name}_ema.{key}")
        assert any(not torch.equal(v, initial[name][k]) for k, v in live.state_dict().items())  # live moved
