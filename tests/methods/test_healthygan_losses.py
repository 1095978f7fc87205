"""HealthyGAN's composition (Eq. 1-2), focus loss, score, and the D / G steps' exact objectives."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.methods._gan import Accel, critic_loss, gradient_penalty
from bench.methods.healthygan.losses import compose, focus_loss, l1, mask_inverse
from bench.methods.healthygan.presets import PRESETS
from bench.methods.healthygan.trainer import HealthyGANSteps, build_networks


def test_eq1_takes_the_healthy_image_where_the_mask_is_on():
    x, healthy = torch.full((1, 1, 1, 2), 0.8), torch.full((1, 1, 1, 2), -0.2)
    mask = torch.tensor([[[[1.0, 0.0]]]])
    torch.testing.assert_close(compose(x, healthy, mask), torch.tensor([[[[-0.2, 0.8]]]]))
    torch.testing.assert_close(compose(x, healthy, torch.full_like(mask, 0.25)), 0.25 * healthy + 0.75 * x)


def test_eq2_takes_the_input_where_the_mask_is_on():
    x, healthy = torch.full((1, 1, 1, 2), 0.8), torch.full((1, 1, 1, 2), -0.2)
    mask = torch.tensor([[[[1.0, 0.0]]]])
    torch.testing.assert_close(mask_inverse(x, healthy, mask), torch.tensor([[[[0.8, -0.2]]]]))


def test_focus_loss_is_zero_for_binary_mask():
    mask = torch.tensor([0.0, 1.0, 1.0, 0.0]).view(1, 1, 2, 2)
    assert focus_loss(mask, lambda_small=0.0).item() == 0.0  # the zero-one term alone
    assert focus_loss(torch.zeros(1, 1, 2, 2)).item() == 0.0  # all off: both terms vanish


def test_focus_loss_hand_computed_with_epsilon_0_01():
    mask = torch.full((1, 1, 2, 2), 0.5)
    expected = 0.5**2 + (1 / 0.01 - 1 / 0.51)
    assert focus_loss(mask).item() == pytest.approx(expected, rel=1e-6)
    mask = torch.tensor([0.0, 1.0, 1.0, 1.0]).view(1, 1, 2, 2)
    assert focus_loss(mask, lambda_small=2.0).item() == pytest.approx(2.0 * 0.75**2, rel=1e-6)


@pytest.fixture
def steps() -> HealthyGANSteps:
    config = dataclasses.replace(PRESETS["smoke"], g_conv_dim=4, g_res_blocks=1, d_conv_dim=4)
    torch.manual_seed(0)
    generator, critic = build_networks(config, 16)
    return HealthyGANSteps(generator, critic, config, Accel.for_device("cpu"))


@pytest.fixture
def batch() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return {"A": torch.rand(3, 1, 16, 16, generator=generator) * 2 - 1,
            "B": torch.rand(3, 1, 16, 16, generator=generator) * 2 - 1}


def test_d_step_is_wgan_gp_with_lambda_10(steps, batch):
    assert steps.config.lambda_gp == 10.0
    torch.manual_seed(5)
    losses = steps.d_step(batch, g_step_follows=False)
    with torch.no_grad():
        image, mask = steps.G(batch["A"])
        fake = compose(batch["A"], image, mask)
    torch.manual_seed(5)  # the same interpolation weights
    penalty = gradient_penalty(steps.D, batch["B"], fake)
    expected = critic_loss(steps.D(batch["B"]), steps.D(fake)) + 10.0 * penalty
    torch.testing.assert_close(losses["loss"], expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses["gp"], penalty.detach(), rtol=1e-5, atol=1e-6)


def test_d_step_keeping_the_generator_pass_gives_the_same_loss(steps, batch):
    torch.manual_seed(5)
    plain = steps.d_step(batch, g_step_follows=False)["loss"]
    torch.manual_seed(5)
    kept = steps.d_step(batch, g_step_follows=True)["loss"]
    torch.testing.assert_close(kept, plain, rtol=1e-5, atol=1e-6)


def test_g_step_objective_matches_the_paper(steps, batch):
    c = steps.config
    losses = steps.g_step(batch)
    a, b = batch["A"], batch["B"]
    image_a, mask_a = steps.G(a)
    image_b, mask_b = steps.G(b)
    x_hat_a, x_hat_b = compose(a, image_a, mask_a), compose(b, image_b, mask_b)
    adversarial = -steps.D(x_hat_a).mean() - steps.D(x_hat_b).mean()  # two adversarial terms
    identity = l1(b, image_b)  # on the raw image of G(B), not on the blend
    reconstruction = l1(a, mask_inverse(a, image_a, mask_a))
    focus = 0.5 * focus_loss(mask_a) + 0.5 * focus_loss(mask_b)
    torch.testing.assert_close(losses["adv"], adversarial.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses["id"], identity.detach(), rtol=1e-5, atol=1e-6)
    assert not torch.isclose(losses["id"], l1(b, x_hat_b).detach())
    torch.testing.assert_close(losses["rec"], reconstruction.detach(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses["focus"], focus.detach(), rtol=1e-5, atol=1e-6)
    expected = adversarial + c.lambda_id * identity + c.lambda_rec * reconstruction + c.lambda_mask * focus
    torch.testing.assert_close(losses["loss"], expected, rtol=1e-5, atol=1e-6)


def test_paper_preset_weights():
    paper = PRESETS["paper"]
    assert (paper.lambda_gp, paper.lambda_id, paper.lambda_rec, paper.lambda_mask) == (10.0, 1.0, 1.0, 0.1)
    assert (paper.lambda_small, paper.lambda_zeroone, paper.n_critic) == (1.0, 1.0, 2)
    assert (paper.g_lr, paper.d_lr, paper.beta1, paper.beta2) == (1e-4, 1e-4, 0.5, 0.999)
    assert (paper.g_conv_dim, paper.g_res_blocks, paper.d_conv_dim, paper.channels) == (64, 6, 64, 3)
    assert paper.selection == "fid" and paper.lr_decay == "none"
