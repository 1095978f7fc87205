"""ALAD against houssamzenati/Adversarially-Learned-Anomaly-Detection (TensorFlow 1, cannot run here): the five
networks' layer lists and parameter counts counted by hand from `alad/cifar10_utilities.py`, spectral norm where
the code has it, the losses and the feature-matching score against their formulas, the EMA, and early stopping on
held-out normal images only."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from bench.methods.alad.detector import ALADDetector
from bench.methods.alad.losses import (
    cross_entropy_score,
    discriminator_loss,
    feature_matching_score,
    generator_encoder_loss,
    residual_score,
)
from bench.methods.alad.networks import (
    DiscriminatorXX,
    DiscriminatorXZ,
    DiscriminatorZZ,
    Encoder,
    Generator,
)
from bench.methods.alad.presets import PRESETS
from bench.methods.alad.trainer import ema_update
from bench.testing import TINY_DATA, synthetic_data, train_data

# Hand counts of the official CIFAR-10 networks (32 px, 3 channels, latent 100; kernel + bias per layer, BN gamma +
# beta; spectral norm's u is not trainable):
# E: conv4 3->128 (6,272) + BN 256, conv4 128->256 (524,544) + BN 512, conv4 256->512 (2,097,664) + BN 1,024,
#    conv4 512->100 (819,300)                                                                    = 3,449,572
# G: tconv4 100->512 (819,712) + BN 1,024, 512->256 (2,097,408) + BN 512, 256->128 (524,416) + BN 256,
#    128->3 (6,147)                                                                                = 3,449,475
# D_xz: conv 3->128 (6,272), 128->256 (524,544) + BN 512, 256->512 (2,097,664) + BN 1,024; z 100->512 (51,712),
#    512->512 (262,656); y (8192 + 512)->1024 (8,913,920), 1024->1 (1,025)                        = 11,859,329
# D_xx: conv5 3->64 (4,864), 64->128 (204,928), dense 16*8*128 -> 1 (16,385)                      = 226,177
# D_zz: dense 200->64 (12,864), 64->32 (2,080), 32->1 (33)                                         = 14,977
OFFICIAL = {"E": 3_449_572, "G": 3_449_475, "D_xz": 11_859_329, "D_xx": 226_177, "D_zz": 14_977}


def n(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def spectral(module: nn.Module) -> list[bool]:
    """Per conv / linear layer (in order): whether it carries spectral norm."""
    return [hasattr(m, "parametrizations") for m in module.modules()
            if isinstance(m, nn.Conv2d | nn.Linear | nn.ConvTranspose2d)]


def test_official_parameter_counts_at_32px():
    nets = {"E": Encoder(32, 3, 100), "G": Generator(32, 3, 100), "D_xz": DiscriminatorXZ(32, 3, 100),
            "D_xx": DiscriminatorXX(32, 3), "D_zz": DiscriminatorZZ(100)}
    assert {k: n(v) for k, v in nets.items()} == OFFICIAL


def test_spectral_norm_where_the_code_has_it():
    # sn.conv2d / sn.dense where `layers = sn`, tf.layers for the last layer of E and of every D, none in G
    assert spectral(Encoder()) == [True, True, True, False]
    assert spectral(Generator()) == [False] * 4
    assert spectral(DiscriminatorXZ()) == [True] * 6 + [False]
    assert spectral(DiscriminatorXX()) == [True, True, False]
    assert spectral(DiscriminatorZZ()) == [True, True, False]


def test_shapes_and_the_scaling_rule():
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    E, G, Dxx = Encoder(), Generator(), DiscriminatorXX()
    z = E(x)
    assert z.shape == (2, 100) and G(z).shape == (2, 3, 32, 32)
    assert Dxx(x, x)[1].shape == (2, 16 * 8 * 128)  # x and x' stacked along the height: 64 x 32 -> 16 x 8
    assert DiscriminatorXZ()(x, z)[1].shape == (2, 1024) and DiscriminatorZZ()(z, z)[1].shape == (2, 32)
    big = torch.rand(2, 1, 64, 64)
    assert len(spectral(Encoder(64, 1))) == 5 and Generator(64, 1)(Encoder(64, 1)(big)).shape == (2, 1, 64, 64)
    assert DiscriminatorXX(64, 1)(big, big)[1].shape == (2, 16 * 8 * 128)  # the feature size is kept
    with pytest.raises(ValueError):
        Encoder(48)


def test_losses_against_their_formulas():
    def bce(logit, label):  # -[y log s(l) + (1 - y) log(1 - s(l))]
        s = torch.sigmoid(torch.tensor(logit, dtype=torch.float64))
        return float(-(label * torch.log(s) + (1 - label) * torch.log(1 - s)))

    le, lg = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.0])
    xr, xf = torch.tensor([3.0, 1.0]), torch.tensor([-1.0, 2.0])
    zr, zf = torch.tensor([0.0, 1.0]), torch.tensor([2.0, 0.0])

    def mean(values):
        return sum(values) / len(values)

    d = discriminator_loss(le, lg, xr, xf, zr, zf)
    xz = mean([bce(v, 1) for v in (1.0, -2.0)]) + mean([bce(v, 0) for v in (0.5, 0.0)])
    xx = mean([bce(3.0, 1) + bce(-1.0, 0), bce(1.0, 1) + bce(2.0, 0)])
    zz = mean([bce(0.0, 1) + bce(2.0, 0), bce(1.0, 1) + bce(0.0, 0)])
    torch.testing.assert_close(d["loss"].double(), torch.tensor(xz + xx + zz, dtype=torch.float64))
    g = generator_encoder_loss(le, lg, xr, xf, zr, zf)
    gen_xz = mean([bce(0.5, 1), bce(0.0, 1)])
    enc_xz = mean([bce(1.0, 0), bce(-2.0, 0)])
    cycle = mean([bce(3.0, 0) + bce(-1.0, 1), bce(1.0, 0) + bce(2.0, 1)]) \
        + mean([bce(0.0, 0) + bce(2.0, 1), bce(1.0, 0) + bce(0.0, 1)])
    torch.testing.assert_close(g["loss"].double(), torch.tensor(gen_xz + enc_xz + cycle, dtype=torch.float64))


def test_one_loss_gives_the_codes_gradients_to_e_and_g():
    """gen_xz + enc_xz + cycle over (E, G) = the code's loss_generator over G and loss_encoder over E."""
    torch.manual_seed(0)
    E, G, Dxz, Dxx, Dzz = (Encoder(32, 1, 8, 16), Generator(32, 1, 8, 16), DiscriminatorXZ(32, 1, 8, 16),
                           DiscriminatorXX(32, 1, 16), DiscriminatorZZ(8, 16))
    for m in (E, G, Dxz, Dxx, Dzz):
        m.eval()
    x, z = torch.rand(4, 1, 32, 32) * 2 - 1, torch.randn(4, 8)

    def parts():
        z_gen, x_gen = E(x), G(z)
        out = (Dxz(x, z_gen)[0], Dxz(x_gen, z)[0], Dxx(x, x)[0], Dxx(x, G(z_gen))[0], Dzz(z, z)[0], Dzz(z, E(x_gen))[0])
        losses = generator_encoder_loss(*out)
        bce = nn.functional.binary_cross_entropy_with_logits
        losses["gen_xz_graph"] = bce(out[1], torch.ones(4))
        losses["enc_xz_graph"] = bce(out[0], torch.zeros(4))
        zeros, ones = torch.zeros(4), torch.ones(4)
        cost_x = (bce(out[2], zeros, reduction="none") + bce(out[3], ones, reduction="none")).mean()
        cost_z = (bce(out[4], zeros, reduction="none") + bce(out[5], ones, reduction="none")).mean()
        losses["cycle_graph"] = cost_x + cost_z
        return losses

    def grads(loss, module):
        return torch.autograd.grad(loss, list(module.parameters()), allow_unused=True)

    p = parts()
    ours_g = grads(p["loss"], G)
    p = parts()
    ours_e = grads(p["loss"], E)
    p = parts()  # the code: loss_generator = gen_xz + cycle over G, loss_encoder = enc_xz + cycle over E
    code_g = grads(p["gen_xz_graph"] + p["cycle_graph"], G)
    p = parts()
    code_e = grads(p["enc_xz_graph"] + p["cycle_graph"], E)
    for ours, code in ((ours_g, code_g), (ours_e, code_e)):
        for a, b in zip(ours, code, strict=True):
            torch.testing.assert_close(a, b)


def test_feature_matching_score_is_the_l1_norm_per_image():
    a = torch.tensor([[1.0, -2.0, 0.5], [0.0, 0.0, 0.0]])
    b = torch.tensor([[0.0, 1.0, 0.5], [1.0, -1.0, 2.0]])
    torch.testing.assert_close(feature_matching_score(a, b), torch.tensor([4.0, 4.0]))
    torch.testing.assert_close(feature_matching_score(a, b, degree=2), torch.tensor([10 ** 0.5, 6 ** 0.5]))


def test_cross_entropy_score_is_softplus_of_minus_the_logit():
    # score_ch = sigmoid_cross_entropy_with_logits(labels=1, logits=l) = -log(sigmoid(l)) = log(1 + exp(-l))
    logits = torch.tensor([0.0, 2.0, -3.0])
    expected = torch.tensor([np.log(2.0), np.log1p(np.exp(-2.0)), np.log1p(np.exp(3.0))], dtype=torch.float32)
    torch.testing.assert_close(cross_entropy_score(logits), expected)


def test_residual_scores_are_image_norms_per_image():
    x = torch.zeros(2, 1, 2, 2)
    rec = torch.tensor([[[[1.0, -2.0], [0.0, 2.0]]], [[[0.5, 0.5], [0.5, 0.5]]]])
    torch.testing.assert_close(residual_score(x, rec, degree=1), torch.tensor([5.0, 2.0]))
    torch.testing.assert_close(residual_score(x, rec, degree=2), torch.tensor([3.0, 1.0]))


@pytest.mark.parametrize("score", ["fm", "ch", "l1", "l2"])
def test_each_score_option_scores_with_its_formula(tiny, tmp_path, score):
    """One tiny fit per score: the detector's scores are the formula's on its own E, G and D_xx (EMA weights)."""
    config = dataclasses.replace(PRESETS["tiny"], score=score)
    detector = ALADDetector(config, device="cpu", workdir=tmp_path).fit(train_data(tiny, ALADDetector))
    test = tiny.split("test")
    assert detector.run_info()["training"]["score"]["name"] == score
    with torch.no_grad():
        x = next(detector._batches(test))[0]
        rec = detector.generator_(detector.encoder_(x))
        logits, features_rec = detector.critic_(x, rec)
        expected = {"fm": feature_matching_score(detector.critic_(x, x)[1], features_rec),
                    "ch": nn.functional.softplus(-logits), "l1": (x - rec).abs().flatten(1).sum(1),
                    "l2": (x - rec).flatten(1).pow(2).sum(1).sqrt()}[score]
    np.testing.assert_allclose(detector.score(test)[:len(x)], expected.double().numpy(), rtol=1e-5, atol=1e-6)


def test_ema_update():
    live, average = nn.Linear(2, 1), nn.Linear(2, 1)
    before = average.weight.detach().clone()
    ema_update(average, live, decay=0.9)
    torch.testing.assert_close(average.weight, 0.9 * before + 0.1 * live.weight.detach())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return synthetic_data(tmp_path_factory.mktemp("alad") / "data", TINY_DATA)


def test_early_stopping_on_held_out_normals_only(tiny, tmp_path):
    """Patience 1 with evaluations every iteration: training stops early and keeps the best EMA weights; the
    validation split (with anomalies) is never used: the same fit without it gives the same scores."""
    config = dataclasses.replace(PRESETS["tiny"], iterations=40, evaluate_every=1, patience=1)
    data = train_data(tiny, ALADDetector)
    with_val = ALADDetector(config, device="cpu", workdir=tmp_path / "a").fit(data, val=tiny.split("val"))
    without = ALADDetector(config, device="cpu", workdir=tmp_path / "b").fit(data)
    info = with_val.run_info()["training"]
    stop = info["early_stopping"]
    assert stop["stopped_early"] and info["iterations"] < 40
    assert info["iterations"] - stop["best_iteration"] == 2  # more than `patience` evaluations without a best
    assert stop["held_out_normals"] == round(0.25 * len(data.normal))
    assert set(info["parameters"]) == {"E", "G", "D_xz", "D_xx", "D_zz"}
    test = tiny.split("test")
    np.testing.assert_array_equal(with_val.score(test), without.score(test))
    # a resumed, early-stopped run does not train again
    again = ALADDetector(config, device="cpu", workdir=tmp_path / "a").fit(data)
    assert again.run_info()["training"]["resumed_from"] == info["iterations"]
    np.testing.assert_array_equal(again.score(test), with_val.score(test))
