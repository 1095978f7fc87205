"""Brainomaly against the authors' code (mahfuzmohammad/Brainomaly, commit baad99b, `model.py` and `solver.py`).

The numbers below were measured by running the official `model.py` Generator and Discriminator in a scratch folder
outside this repository (torch 2, CPU, fp32): bench's networks were built with the seeds below, their parameters
copied in order into the official modules (in training mode, as the official code always runs them: it never calls
`.eval()`), and the official modules' outputs, and the losses of one training step written as `solver.py`'s `train`
writes it (D step, Adam update, G step), were printed. Only the numbers are kept here, never the official code.
"""

from __future__ import annotations

import dataclasses

import torch

from bench.methods._gan import Accel, DeviceSampler, GANLoop, LoopSettings
from bench.methods._gan.networks import Critic, count_parameters
from bench.methods.brainomaly.networks import Generator, translate
from bench.methods.brainomaly.presets import PRESETS
from bench.methods.brainomaly.trainer import HEALTHY, MIXED, BrainomalySteps, build_networks

# Official Generator(64, c_dim=0, 6) and Discriminator(192, 64, c_dim=0, 6): train.sh's networks (3 input channels).
OFFICIAL_G_PARAMETERS = 8_408_576
OFFICIAL_D_PARAMETERS = 44_721_088

# Official Generator(8, 0, 2) on x = torch.rand(2, 3, 32, 32) * 2 - 1 drawn after torch.manual_seed(1), with the
# weights of bench's Generator(3, 8, 2) built after torch.manual_seed(0) (then bench's Critic(3, 8, 4)).
OFFICIAL_MAP = {"sum": 607.0972290039062, "abs_sum": 720.7803955078125, (0, 0, 5, 7): 0.23884063959121704,
                (1, 0, 20, 3): 0.5422097444534302}
OFFICIAL_CRITIC_ON_TRANSLATED = [-0.002515292726457119, 0.00209906417876482, -0.008270390331745148,
                                 0.0015311504248529673, 0.0022095656022429466, 0.002161951269954443,
                                 -0.008575331419706345, 0.004487552680075169]
OFFICIAL_SCORES = [0.13468711078166962, 0.13890527188777924]  # mean |x - tanh(x + G(x))| / 2 (`testAUCp`)

# One official training step with the same initial weights, x_A then x_B = torch.rand(4, 3, 32, 32) * 2 - 1 after
# torch.manual_seed(2), the GP's alpha drawn after torch.manual_seed(3), Adam 1e-4 (0.5, 0.999), lambda_gp 10,
# lambda_id 1: mean D(x_B), mean D(fake), the penalty and d_loss; then (after D's update) g_loss_fake, g_loss_id
# and g_loss.
OFFICIAL_STEP = {"d_real": -0.001239605713635683, "d_fake": -0.0019553271122276783, "gp": 0.9738333225250244,
                 "D": 9.737617492675781, "adv": 0.0020629491191357374, "id": 0.27294719219207764,
                 "G": 0.2750101387500763}


def small_networks() -> tuple[Generator, Critic]:
    torch.manual_seed(0)
    return Generator(3, 8, 2), Critic(3, 8, 4)


def test_parameter_counts_equal_the_official_modules():
    generator, critic = build_networks(PRESETS["paper"], 192)
    assert count_parameters(generator) == OFFICIAL_G_PARAMETERS
    assert count_parameters(critic) == OFFICIAL_D_PARAMETERS


def test_forward_equals_the_official_generator_and_critic_with_the_same_weights():
    generator, critic = small_networks()
    torch.manual_seed(1)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        additive = generator(x)
        on_translated = critic(translate(x, additive))
    assert additive.shape == (2, 1, 32, 32)
    tol = {"rtol": 1e-5, "atol": 1e-6}
    torch.testing.assert_close(additive.sum().item(), OFFICIAL_MAP["sum"], rtol=1e-5, atol=1e-3)
    torch.testing.assert_close(additive.abs().sum().item(), OFFICIAL_MAP["abs_sum"], rtol=1e-5, atol=1e-3)
    for index in ((0, 0, 5, 7), (1, 0, 20, 3)):
        torch.testing.assert_close(additive[index].item(), OFFICIAL_MAP[index], **tol)
    torch.testing.assert_close(on_translated.flatten(), torch.tensor(OFFICIAL_CRITIC_ON_TRANSLATED), **tol)


def test_score_formula_equals_the_official_one():
    """The detector's score (the shared restoration score on x' = tanh(x + G(x))) on the official numbers' input."""
    from bench.methods._gan.scoring import anomaly_map, anomaly_score

    generator, _ = small_networks()
    torch.manual_seed(1)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        restored = translate(x, generator(x))
    torch.testing.assert_close(anomaly_score(x, restored), torch.tensor(OFFICIAL_SCORES), rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(anomaly_map(x, restored), (x - torch.tanh(x + generator(x))).abs().mean(dim=1))


def one_step() -> tuple[dict[str, float], Generator, Critic, torch.Tensor, torch.Tensor]:
    """bench's loop step (D step, then the G step: n_critic 1) from the official numbers' start."""
    generator, critic = small_networks()
    torch.manual_seed(2)
    mixed, healthy = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    config = dataclasses.replace(PRESETS["paper"], channels=3, g_conv_dim=8, g_res_blocks=2, d_conv_dim=8,
                                 n_critic=1, accel="off")
    accel = Accel.for_device("cpu", mode="off")
    images = torch.zeros(8, 3, 32, 32, dtype=torch.uint8)
    sampler = DeviceSampler({MIXED: images, HEALTHY: images}, 4, seed=0, channels=3)
    steps = BrainomalySteps(generator, critic, config, accel, sampler)
    loop = GANLoop(steps, sampler, LoopSettings(iterations=1, n_critic=1), accel=accel, folder=None, identity="t")
    torch.manual_seed(3)
    losses = loop.train_step({MIXED: mixed, HEALTHY: healthy})
    return {k: float(v.detach()) for k, v in losses.items()}, generator, critic, mixed, healthy


def test_one_training_step_gives_the_official_losses():
    losses, *_ = one_step()
    for key, value in OFFICIAL_STEP.items():
        assert abs(losses[key] - value) <= 1e-5 * max(1.0, abs(value)), (key, losses[key], value)


def test_one_training_step_losses_follow_the_formulas():
    """The G step's logged terms recomputed from the networks after the step's D update (G unchanged until its own
    update): -mean D(tanh(x_A + G(x_A))) and mean |x_B - tanh(x_B + G(x_B))|; G = adv + lambda_id * id."""
    generator, critic = small_networks()
    torch.manual_seed(2)
    mixed, healthy = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        d_real_before = critic(healthy).mean().item()
        d_fake_before = critic(torch.tanh(mixed + generator(mixed))).mean().item()
    losses, _, critic_after, _, _ = one_step()
    assert abs(losses["d_real"] - d_real_before) < 1e-7 and abs(losses["d_fake"] - d_fake_before) < 1e-7
    assert abs(losses["D"] - (d_fake_before - d_real_before + 10 * losses["gp"])) < 1e-5
    with torch.no_grad():  # G before its update is the initial G: rebuild it
        generator, _ = small_networks()
        adversarial = -critic_after(torch.tanh(mixed + generator(mixed))).mean().item()
        identity = (healthy - torch.tanh(healthy + generator(healthy))).abs().mean().item()
    assert abs(losses["adv"] - adversarial) < 1e-6 and abs(losses["id"] - identity) < 1e-6
    assert abs(losses["G"] - (adversarial + 1.0 * identity)) < 1e-6
