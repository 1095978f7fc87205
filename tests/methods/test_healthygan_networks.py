"""HealthyGAN's generator: output split, parameter count at the paper's width, per-sample normalisation (the
critic, shared with SAGAN, is tested in test_gan_networks.py)."""

from __future__ import annotations

import torch
from torch import nn

from bench.methods._gan.networks import count_parameters
from bench.methods.healthygan.networks import Generator, split_output


def conv_params(c_in: int, c_out: int, k: int, bias: bool) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def expected_generator_parameters(channels: int, width: int, res_blocks: int) -> int:
    """Counted by hand from the paper (methods/healthygan/README.md): convolutions without bias, InstanceNorm with
    weight and bias."""
    norm = 2  # affine parameters per channel
    total = conv_params(channels, width, 7, False) + norm * width
    total += conv_params(width, 2 * width, 4, False) + norm * 2 * width
    total += conv_params(2 * width, 4 * width, 4, False) + norm * 4 * width
    total += res_blocks * 2 * (conv_params(4 * width, 4 * width, 3, False) + norm * 4 * width)
    total += conv_params(4 * width, 2 * width, 4, False) + norm * 2 * width
    total += conv_params(2 * width, width, 4, False) + norm * width
    return total + conv_params(width, channels + 1, 7, False)


def test_generator_has_about_8_4m_parameters_at_paper_width():
    generator = Generator(channels=3, conv_dim=64, res_blocks=6)
    n = count_parameters(generator)
    assert n == expected_generator_parameters(3, 64, 6)
    assert abs(n - 8.4e6) / 8.4e6 < 0.01, n


def test_generator_convolutions_have_no_bias():
    generator = Generator(1, 8, 2)
    assert all(m.bias is None for m in generator.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d))


def test_output_splits_into_tanh_image_and_tanh_mask():
    torch.manual_seed(0)
    generator = Generator(channels=3, conv_dim=8, res_blocks=1)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    raw = generator.forward_raw(x)
    image, mask = generator(x)
    assert raw.shape == (2, 4, 16, 16)
    torch.testing.assert_close(image, torch.tanh(raw[:, :3]))
    torch.testing.assert_close(mask, (torch.tanh(raw[:, 3:]) + 1) / 2)
    torch.testing.assert_close(mask, torch.sigmoid(2 * raw[:, 3:]))  # the same function


def test_split_output_ranges():
    raw = torch.linspace(-20, 20, 2 * 5).view(1, 2, 1, 5)
    image, mask = split_output(raw, 1)
    assert image.min() >= -1 and image.max() <= 1 and mask.min() >= 0 and mask.max() <= 1


def test_generator_on_a_concatenated_batch_equals_separate_passes():
    """InstanceNorm is per-sample, so G(A) and G(B) may share one forward pass exactly."""
    torch.manual_seed(0)
    generator = Generator(1, 8, 2)
    a, b = torch.randn(3, 1, 16, 16), torch.randn(2, 1, 16, 16)
    joint_image, joint_mask = generator(torch.cat([a, b]))
    image_a, mask_a = generator(a)
    image_b, mask_b = generator(b)
    torch.testing.assert_close(joint_image, torch.cat([image_a, image_b]), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(joint_mask, torch.cat([mask_a, mask_b]), rtol=1e-5, atol=1e-6)
