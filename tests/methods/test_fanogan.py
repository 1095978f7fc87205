"""f-AnoGAN against tSchlegl/f-AnoGAN (TensorFlow 1, cannot run here): the networks' layer lists and parameter
counts counted by hand from `wgangp_64x64.py` / `z_encoding_izif.py`, the izi_f loss and the score against their
formulas on fixed tensors, and the two-stage training (resume, iterations in the run facts)."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.core.images import TrainData
from bench.core.progress import Progress, ProgressTask
from bench.methods._gan.networks import count_parameters
from bench.methods.fanogan.detector import FAnoGANDetector
from bench.methods.fanogan.losses import anomaly_score, izif_loss
from bench.methods.fanogan.networks import ChannelLayerNorm, Critic, Encoder, Generator, ResBlock
from bench.methods.fanogan.presets import PRESETS
from bench.testing import TINY_DATA, synthetic_data, train_data

# Hand counts at 64 px, DIM 64, ZDIM 128, 1 channel. A ResBlock (in, out) has two norms (2 x in, then 2 x in for
# 'down' / 2 x out for 'up' parameters: BN gamma/beta or Layernorm scale/offset), conv1 3x3 without bias, conv2 3x3
# with bias, and a 1x1 shortcut with bias:
#   up (G):   2in + 9*in*out + 2out + 9*out*out + out + in*out + out
#   down (D, E): 2in + 9*in*in + 2in + 9*in*out + out + in*out + out
# G: Linear 128 -> 8192 (1,056,768) + up 512->512 (4,983,808) + 512->256 (1,902,592) + 256->128 (476,160)
#    + 128->64 (119,296) + OutputN BN(64) (128) + conv3 64->1 (577) = 8,539,329
# D: conv3 1->64 (640) + down 64->128 (119,296) + 128->256 (476,160) + 256->512 (1,902,592) + 512->512 (4,983,808)
#    + Linear 8192 -> 1 (8,193) = 7,490,689
# E: D's body (7,490,689 - 8,193) + Linear 8192 -> 128 (1,048,704) = 8,531,200
G_PARAMS, D_PARAMS, E_PARAMS = 8_539_329, 7_490_689, 8_531_200


def test_official_parameter_counts_at_64px():
    assert count_parameters(Generator(64, 64, 128, 1)) == G_PARAMS
    assert count_parameters(Critic(64, 64, 1)) == D_PARAMS
    assert count_parameters(Encoder(64, 64, 128, 1)) == E_PARAMS


def test_official_layer_lists_at_64px():
    G, D, E = Generator(), Critic(), Encoder()
    assert [(b.conv1.in_channels, b.conv2.out_channels, b.resample) for b in G.blocks] == [
        (512, 512, "up"), (512, 256, "up"), (256, 128, "up"), (128, 64, "up")]
    for net in (D, E):
        assert [(b.conv1.in_channels, b.conv2.out_channels, b.resample) for b in net.blocks] == [
            (64, 128, "down"), (128, 256, "down"), (256, 512, "down"), (512, 512, "down")]
    assert all(isinstance(b.norm1, ChannelLayerNorm) for b in D.blocks)  # Layernorm in the WGAN-GP critic
    assert all(isinstance(b.norm1, torch.nn.BatchNorm2d) and b.norm1.eps == 1e-3 for b in E.blocks)
    assert all(b.conv1.bias is None and b.conv2.bias is not None for b in [*G.blocks, *D.blocks])
    z = torch.randn(3, 128)
    assert G(z).shape == (3, 1, 64, 64) and G(z).abs().max() <= 1
    x = torch.rand(3, 1, 64, 64) * 2 - 1
    assert D(x).shape == (3,) and D.features(x).shape == (3, 8192)
    assert E(x).shape == (3, 128) and E(x).abs().max() < 1  # tanh_fc


def test_scaling_rule_adds_one_stage_per_doubling():
    assert len(Critic(128, 8).blocks) == 5 and len(Critic(256, 8).blocks) == 6 and len(Critic(32, 8).blocks) == 3
    assert Generator(256, 8, 16)(torch.randn(2, 16)).shape == (2, 1, 256, 256)
    with pytest.raises(ValueError):
        Critic(48, 8)


def test_resblock_down_is_conv_then_mean_pool_with_pooled_shortcut():
    torch.manual_seed(0)
    block = ResBlock(2, 3, "down", "layer")
    x = torch.randn(1, 2, 4, 4)
    relu = torch.nn.functional.relu
    inner = block.conv2(relu(block.norm2(block.conv1(relu(block.norm1(x))))))
    expected = block.shortcut(torch.nn.functional.avg_pool2d(x, 2)) + torch.nn.functional.avg_pool2d(inner, 2)
    torch.testing.assert_close(block(x), expected)


def test_izif_loss_and_score_against_their_formulas():
    x = torch.tensor([[[[1.0, -1.0], [0.5, 0.0]]], [[[0.0, 0.0], [0.0, 0.0]]]])
    rec = torch.tensor([[[[0.0, -1.0], [0.5, 1.0]]], [[[0.0, 0.5], [0.0, 0.0]]]])
    f_x = torch.tensor([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    f_rec = torch.tensor([[1.0, 0.0, 3.0], [0.0, 0.0, 3.0]])
    # image MSE per image: (1 + 0 + 0 + 1) / 4 = 0.5 and 0.25 / 4 = 0.0625; feature MSE: 4 / 3 and 9 / 3
    torch.testing.assert_close(anomaly_score(x, rec, f_x, f_rec, kappa=1.0),
                               torch.tensor([0.5 + 4 / 3, 0.0625 + 3.0]))
    torch.testing.assert_close(anomaly_score(x, rec, f_x, f_rec, kappa=0.0), torch.tensor([0.5, 0.0625]))
    total, image, feature = izif_loss(x, rec, f_x, f_rec, kappa=2.0)
    torch.testing.assert_close(image, torch.tensor((0.5 + 0.0625) / 2))
    torch.testing.assert_close(feature, torch.tensor((4 / 3 + 3.0) / 2))
    torch.testing.assert_close(total, image + 2.0 * feature)


def test_paper_preset_is_the_official_settings():
    c = PRESETS["paper"]
    assert (c.image_size, c.dim, c.latent_dim, c.n_critic, c.lambda_gp, c.batch_size) == (64, 64, 128, 5, 10.0, 64)
    assert (c.lr, c.beta1, c.beta2, c.encoder_iterations, c.encoder_lr, c.kappa) == (1e-4, 0.0, 0.9, 50_000, 5e-5, 1.0)
    # TRAIN_EPOCHS 7 of N // 64 - CRITIC_ITERS critic steps each
    assert c.stage1_iterations(6400) == 7 * (100 - 5)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return synthetic_data(tmp_path_factory.mktemp("fanogan") / "data", TINY_DATA)


class InterruptStage2At(Progress):
    """Progress whose stage-2 bar raises KeyboardInterrupt at `iteration` (Ctrl-C in the encoder stage)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def task(self, description, total=None, completed=0):
        outer = self

        class Bar(ProgressTask):
            done = completed

            def advance(self, n=1, **fields):
                before, self.done = self.done, self.done + n
                if "stage 2" in description and before < outer.iteration <= self.done:
                    raise KeyboardInterrupt

        return Bar()


def test_both_stages_resume_and_are_recorded(tiny, tmp_path):
    """A run interrupted in stage 2 and resumed gives the uninterrupted run's scores; stage 1 is not rerun."""
    config = dataclasses.replace(PRESETS["tiny"], checkpoint_every=2)
    data = train_data(tiny, FAnoGANDetector)
    test = tiny.split("test")
    whole = FAnoGANDetector(config, seed=0, device="cpu", workdir=tmp_path / "whole").fit(data)
    with pytest.raises(KeyboardInterrupt):
        FAnoGANDetector(config, seed=0, device="cpu", workdir=tmp_path / "cut", progress=InterruptStage2At(5)).fit(data)
    resumed = FAnoGANDetector(config, seed=0, device="cpu", workdir=tmp_path / "cut").fit(data)
    info = resumed.run_info()["training"]
    assert info["stage1_wgan_gp"]["resumed_from"] == config.iterations  # stage 1 was finished: not rerun
    assert info["stage2_encoder_izif"]["resumed_from"] == 4  # the last checkpoint before the interrupt
    assert info["iterations"] == {"stage1_critic_steps": 10, "stage1_generator_steps": 2, "stage2_encoder_steps": 6}
    assert info["parameters"] == {"G": count_parameters(Generator(16, 8, 32)), "D": count_parameters(Critic(16, 8)),
                                  "E": count_parameters(Encoder(16, 8, 32))}
    assert info["resolution"]["image_size"] == 16
    torch.testing.assert_close(torch.from_numpy(resumed.score(test)), torch.from_numpy(whole.score(test)))
    assert isinstance(data, TrainData) and data.unlabeled is None
