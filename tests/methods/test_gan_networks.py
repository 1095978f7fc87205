"""The PatchGAN critic HealthyGAN and SAGAN share: parameter count at the paper's width, biases, output map
size, init."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from bench.methods._gan.networks import Critic, count_parameters, critic_depth


def conv_params(c_in: int, c_out: int, k: int, bias: bool) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def test_critic_parameter_count_at_paper_width():
    critic = Critic(channels=3, conv_dim=64, repeat_num=6)
    widths = [3, 64, 128, 256, 512, 1024, 2048]
    expected = sum(conv_params(a, b, 4, True) for a, b in zip(widths, widths[1:], strict=False))
    expected += conv_params(2048, 1, 3, False)
    assert count_parameters(critic) == expected  # 44.7M


def test_critic_blocks_have_a_bias_and_the_last_convolution_has_none():
    convs = [m for m in Critic(1, 8, 3).modules() if isinstance(m, nn.Conv2d)]
    assert all(c.bias is not None for c in convs[:-1]) and convs[-1].bias is None


@pytest.mark.parametrize(("size", "depth", "side"), [(64, 6, 1), (128, 6, 2), (256, 6, 4), (32, 5, 1)])
def test_critic_output_map_is_size_over_2_to_the_depth(size, depth, side):
    assert critic_depth(size) == depth
    assert Critic(1, 4, depth)(torch.zeros(1, 1, size, size)).shape == (1, 1, side, side)


def test_a_critic_too_deep_for_the_image_is_an_error():
    with pytest.raises(ValueError, match="does not fit 16px"):
        critic_depth(16, requested=5)


def input_gradient_norm(critic: Critic, size: int) -> float:
    x = torch.randn(8, 1, size, size).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x)
    return grad.flatten(1).norm(dim=1).mean().item()


@pytest.mark.parametrize("size, width, depth", [(32, 16, 5), (64, 64, 6)])
def test_he_init_starts_the_critic_off_the_flat_gradient_penalty_plateau(size, width, depth):
    torch.manual_seed(0)
    default = input_gradient_norm(Critic(1, width, depth), size)
    he = input_gradient_norm(Critic(1, width, depth, init="he"), size)
    # PyTorch's default init: gradient ~1e-3, so the penalty (||grad|| - 1)^2 starts at ~1 with no signal.
    assert default < 0.01 and he > 0.1
    conv = Critic(1, width, depth, init="he").net[0]
    assert torch.count_nonzero(conv.bias) == 0


def test_unknown_critic_init_is_an_error():
    with pytest.raises(ValueError, match="critic init"):
        Critic(1, 8, 3, init="xavier")
