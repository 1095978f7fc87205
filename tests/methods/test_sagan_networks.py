"""SAGAN generator: ACM patching and codes, ARRM attention gates, Bernoulli gating, size."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from bench.methods._gan.networks import count_parameters
from bench.methods.sagan.networks import AttentionGate, SAGANGenerator
from bench.methods.sagan.patches import code_bits, merge_patches, patch_codes, split_patches


def images(n: int = 2, size: int = 64, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.mark.parametrize("n_patches", [1, 2, 4])
def test_patch_split_and_reassembly_is_exact(n_patches):
    x = images(3)
    assert torch.equal(merge_patches(split_patches(x, n_patches), n_patches), x)


def test_patches_are_row_major_per_image():
    x = images(2)
    patches = split_patches(x, 2)
    assert patches.shape == (8, 1, 32, 32)
    assert torch.equal(patches[1], x[0, :, :32, 32:])  # top-right
    assert torch.equal(patches[2], x[0, :, 32:, :32])  # bottom-left
    assert torch.equal(patches[7], x[1, :, 32:, 32:])


def test_codes_for_two_by_two_patches_are_000_001_010_011():
    assert code_bits(2) == 3
    expected = torch.tensor([[0, 0, 0], [0, 0, 1], [0, 1, 0], [0, 1, 1]], dtype=torch.float32)
    assert torch.equal(patch_codes(2), expected)


@pytest.mark.parametrize("n_patches", [1, 2, 3, 4, 5])
def test_codes_have_ceil_log2_plus_one_bits_and_are_distinct(n_patches):
    codes = patch_codes(n_patches)
    assert codes.shape == (n_patches**2, math.ceil(math.log2(n_patches**2) + 1))
    assert len({tuple(c.tolist()) for c in codes}) == n_patches**2
    weights = 2 ** torch.arange(codes.shape[1] - 1, -1, -1)
    assert torch.equal((codes * weights).sum(1).long(), torch.arange(n_patches**2))


def test_attention_coefficients_lie_in_unit_interval_with_the_skips_size():
    gate = AttentionGate(gate_channels=16, skip_channels=8)
    psi_inputs = torch.randn(3, 16, 4, 4) * 5, torch.randn(3, 8, 8, 8) * 5
    gated, psi = gate(*psi_inputs)
    assert psi.shape == (3, 1, 8, 8)
    assert psi.min() >= 0 and psi.max() <= 1
    assert torch.allclose(gated, psi_inputs[1] * psi)


def test_generator_attention_maps_cover_the_three_decoder_stages():
    g = SAGANGenerator(base=8).eval()
    attention = g.restore(images(2)).attention
    assert [a.shape[-1] for a in attention] == [8, 16, 32]
    assert all(a.min() >= 0 and a.max() <= 1 for a in attention)
    assert SAGANGenerator(base=8, arrm=False).eval().restore(images(2)).attention == []


def test_bernoulli_gating_is_active_in_training():
    torch.manual_seed(0)
    g = SAGANGenerator(base=8).train()
    x = images(4)
    out = g.restore(x)
    kept = torch.isclose(out.restored, torch.tanh(out.delta + x), atol=1e-6)
    dropped = torch.isclose(out.restored, torch.tanh(2 * x), atol=1e-6) & ~kept
    assert (kept | dropped).all()
    assert 0.93 < kept.float().mean() < 0.97


def test_bernoulli_gating_is_off_in_eval_unless_gate_at_test():
    x = images(2)
    g = SAGANGenerator(base=8).eval()
    out = g.restore(x)
    assert torch.equal(out.restored, torch.tanh(out.delta + x))
    assert torch.equal(g(x), g(x))
    g.gate_at_test = True
    torch.manual_seed(1)
    assert not torch.equal(g(x), g(x))


def test_position_codes_make_identical_patches_restore_differently():
    flat = torch.zeros(1, 1, 64, 64)
    delta = split_patches(SAGANGenerator(base=8).eval().restore(flat).delta, 2)
    assert not torch.allclose(delta[0], delta[3])
    delta_without = split_patches(SAGANGenerator(base=8, acm=False).eval().restore(flat).delta, 2)
    assert delta_without.shape == delta.shape


def test_patches_are_restored_independently_of_each_other():
    g = SAGANGenerator(base=8).eval()
    x = images(1)
    changed = x.clone()
    changed[:, :, :32, :32] = 0.5  # top-left patch only
    before, after = split_patches(g(x), 2), split_patches(g(changed), 2)
    assert not torch.allclose(before[0], after[0])
    assert torch.equal(before[1:], after[1:])


def test_restoration_of_an_image_does_not_depend_on_its_batch():
    g = SAGANGenerator(base=8).eval()
    x = images(3)
    # Batched convolutions may pick other CPU kernels (e.g. with one thread): float32 round-off, not leakage.
    torch.testing.assert_close(g(x)[1:2], g(x[1:2]), rtol=1e-4, atol=1e-4)


def transposed_block_parameters(c_in: int, c_out: int) -> int:
    """ConvTranspose 4x4 without bias + affine InstanceNorm."""
    return c_in * c_out * 4 * 4 + 2 * c_out


def test_fusion_enlarges_stage_one_in_two_x2_steps_as_the_authors_code():
    fusion = SAGANGenerator(base=64).fusion
    steps = [m for m in fusion.from_stage1.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size, m.stride) for m in steps] == [
        (256, 128, (4, 4), (2, 2)), (128, 64, (4, 4), (2, 2))]
    expected = transposed_block_parameters(256, 128) + transposed_block_parameters(128, 64)
    assert count_parameters(fusion.from_stage1) == expected == 655_744
    assert fusion.from_stage1(torch.zeros(1, 256, 8, 8)).shape == (1, 64, 32, 32)


def test_generator_has_about_45m_parameters_at_the_paper_width():
    # The paper (methods/sagan/README.md): about 45M. One x4 ConvTranspose (256 -> 64, kernel 8) for stage 1 would add
    # 392,960.
    count = count_parameters(SAGANGenerator(base=64))
    assert count == 44_760_774
    assert abs(count - 45e6) / 45e6 < 0.01
