"""Shared GAN parts: WGAN-GP arithmetic, the device sampler, RNG capture, the loss log and sample grids."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from bench.methods._gan import DeviceSampler, critic_loss, critic_loss_gp, gradient_penalty, samples, save_sample_grid
from bench.methods._gan.checkpoint import preserved_rng, rng_state, set_rng_state
from bench.methods._gan.data import images_to_device, split_holdout, to_unit_range
from bench.methods._gan.losslog import LossAverager, LossLog


def test_gradient_penalty_of_a_linear_critic_is_exact():
    weight = torch.tensor([3.0, 4.0]).view(1, 2, 1, 1)  # ||grad|| = 5 everywhere

    def critic(x):
        return (x * weight).sum(dim=(1, 2, 3))

    real, fake = torch.randn(6, 2, 1, 1), torch.randn(6, 2, 1, 1)
    assert gradient_penalty(critic, real, fake).item() == pytest.approx((5 - 1) ** 2)


def test_critic_loss_is_fake_minus_real():
    assert critic_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.5, 0.5])).item() == pytest.approx(-1.5)


def test_one_batched_critic_pass_equals_two():
    torch.manual_seed(0)
    critic = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 4, 2, 1), torch.nn.LeakyReLU(0.01), torch.nn.Conv2d(4, 1, 3))
    real, fake = torch.randn(5, 1, 8, 8), torch.randn(5, 1, 8, 8)
    torch.manual_seed(1)
    losses = critic_loss_gp(critic, real, fake, lambda_gp=10.0)
    torch.manual_seed(1)
    separate = critic(fake).mean() - critic(real).mean() + 10.0 * gradient_penalty(critic, real, fake)
    torch.testing.assert_close(losses["loss"], separate, rtol=1e-5, atol=1e-6)


def test_images_reach_the_device_as_uint8_and_normalise_there():
    images = np.array([[[[0, 255], [128, 64]]]], dtype=np.uint8)
    on_device = images_to_device(images, torch.device("cpu"))
    assert on_device.dtype == torch.uint8
    x = to_unit_range(on_device, channels=3)
    assert x.shape == (1, 3, 2, 2) and x.min() == -1 and x.max() == 1
    resized = images_to_device(np.full((2, 1, 8, 8), 200, np.uint8), torch.device("cpu"), size=4)
    assert resized.shape == (2, 1, 4, 4) and (resized == 200).all()


def test_sampler_covers_each_set_once_per_epoch_and_resumes_exactly():
    values = torch.arange(10, dtype=torch.uint8).view(10, 1, 1, 1)
    sampler = DeviceSampler({"A": values}, batch_size=5, seed=0)
    first_epoch = torch.cat([sampler.sample()["A"] for _ in range(2)])
    assert sorted(((first_epoch.flatten() + 1) * 127.5).round().int().tolist()) == list(range(10))
    state = sampler.state_dict()
    expected = [sampler.sample()["A"] for _ in range(3)]
    again = DeviceSampler({"A": values}, batch_size=5, seed=99)
    again.load_state_dict(state)
    for want in expected:
        assert torch.equal(again.sample()["A"], want)


def test_holdout_is_disjoint_and_seeded():
    keep, held = split_holdout(20, 4, seed=1)
    assert len(held) == 4 and not set(keep) & set(held) and len(keep) + len(held) == 20
    assert np.array_equal(held, split_holdout(20, 4, seed=1)[1])


def test_rng_state_round_trip_covers_torch_numpy_and_python():
    state = rng_state()
    drawn = (torch.rand(3), np.random.rand(3), random.random())
    set_rng_state(state)
    assert torch.equal(torch.rand(3), drawn[0]) and np.array_equal(np.random.rand(3), drawn[1])
    assert random.random() == drawn[2]
    with preserved_rng():
        torch.rand(100)
    assert not torch.equal(torch.rand(3), drawn[0])  # continued from where it was, not reset


def test_loss_averager_means_since_last_call():
    averager = LossAverager()
    averager.add({"D": torch.tensor(1.0)})
    averager.add({"D": torch.tensor(3.0), "G": torch.tensor(5.0)})
    assert averager.means() == {"D": 2.0, "G": 5.0}
    assert averager.means() == {}


def test_loss_log_widens_its_columns_when_a_loss_appears_later(tmp_path):
    log = LossLog(tmp_path, tensorboard=False)
    log.write(1, {"D": 1.0})
    log.write(2, {"D": 2.0, "G": 3.0})
    lines = (tmp_path / "losses.csv").read_text().splitlines()
    assert lines == ["iteration,D,G", "1,1.0,", "2,2.0,3.0"]


def test_sample_grid_is_written_with_each_column_in_its_range_and_colormap(tmp_path):
    from matplotlib import colormaps
    from PIL import Image

    panels = {"input": torch.full((2, 1, 8, 8), 0.5), "mask": torch.ones(2, 1, 8, 8)}
    path = save_sample_grid(tmp_path / "grid.png", panels, {"input": (0, 1), "mask": (0, 1)},
                            colormaps={"mask": "magma"}, row_labels=["a", "b"], title="t")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = np.asarray(Image.open(path).convert("RGB"))
    cell = 8 * -(-samples.MIN_CELL // 8)
    top, left = 2 * samples.TEXT_ROW + samples.GAP, samples.LABEL_WIDTH
    second_row = top + cell + samples.GAP + cell // 2
    assert tuple(pixels[second_row, left + cell // 2]) == (128, 128, 128)  # 0.5 of (0, 1) in gray
    magma_top = tuple(round(255 * c) for c in colormaps["magma"](1.0)[:3])
    assert tuple(pixels[second_row, left + cell + samples.GAP + cell // 2]) == magma_top
    assert pixels.shape == (top + 2 * (cell + samples.GAP), left + 2 * (cell + samples.GAP), 3)
