"""SAGAN's generator loss and anomaly score."""

from __future__ import annotations

import torch

from bench.methods.sagan.losses import anomaly_map, anomaly_score, generator_loss


def test_score_is_mean_absolute_difference_over_two():
    x = torch.full((2, 1, 4, 4), -1.0)
    restored = x.clone()
    restored[0] = 1.0  # every pixel off by 2
    restored[1, 0, 0, :] = 0.0  # 4 of 16 pixels off by 1
    torch.testing.assert_close(anomaly_score(x, restored), torch.tensor([1.0, 4 / 16 / 2]))
    assert anomaly_map(x, restored).shape == (2, 4, 4)


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
