"""SAGAN's generator loss."""

from __future__ import annotations

import torch

from bench.methods.sagan.losses import generator_loss


def test_generator_loss_adds_the_three_terms():
    normal = torch.zeros(2, 1, 4, 4)
    restored_normal = torch.full_like(normal, 0.5)
    restored_pseudo = torch.full_like(normal, -2.0)
    critic = torch.tensor([1.0, 3.0])
    total, parts = generator_loss(critic, restored_normal, normal, restored_pseudo, lambda_id=1.0, lambda_rec=2.0)
    torch.testing.assert_close(total, torch.tensor(-2.0 + 0.5 + 2.0 * 4.0))
    assert set(parts) == {"g_adv", "g_id", "g_rec"}


def test_generator_loss_without_pseudo_anomalies_has_no_restoration_term():
    normal = torch.zeros(2, 1, 4, 4)
    total, parts = generator_loss(torch.zeros(2), normal + 1, normal, None)
    assert "g_rec" not in parts
    torch.testing.assert_close(total, torch.tensor(1.0))
