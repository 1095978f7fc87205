"""The Brainomaly detector end to end on tiny real data: run-folder outputs, the public score and map against the
formula, the presets' settings (the audits against the official code are in test_brainomaly_official.py)."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch

from bench.core.errors import BenchError
from bench.core.images import TrainData
from bench.methods._gan import images_to_device, to_unit_range
from bench.methods.brainomaly.detector import BrainomalyDetector

TINY_RUN = {"image_size": "16", "g_conv_dim": "4", "g_res_blocks": "1", "d_conv_dim": "4", "iterations": "4",
            "batch_size": "4", "checkpoint_every": "2", "log_every": "2", "fid_holdout": "6"}


def train_data(prepared) -> TrainData:
    return TrainData(prepared.split("train_normal"), prepared.split("train_unlabeled").without_labels())


def test_fit_writes_the_run_folder_and_scores_by_the_formula(tiny_data, tmp_path):
    fitted = BrainomalyDetector.from_preset("smoke", TINY_RUN, seed=0, device="cpu", workdir=tmp_path)
    fitted.fit(train_data(tiny_data))
    assert (tmp_path / "samples.png").stat().st_size > 0
    with open(tmp_path / "losses.csv") as handle:
        columns = next(csv.reader(handle))
    assert {"D", "gp", "G", "adv", "id"} <= set(columns)
    info = fitted.run_info()
    assert info["training"]["selection"]["policy"] == "aucp" and info["image_size"] == 16
    test = tiny_data.split("test")
    x = to_unit_range(images_to_device(test.images, torch.device("cpu"), size=16), 1)
    with torch.no_grad():
        restored = torch.tanh(x + fitted.generator_(x))
    expected = (x - restored).abs().flatten(1).mean(1).double().numpy() / 2
    np.testing.assert_allclose(fitted.score(test), expected, rtol=1e-6)
    maps = fitted.anomaly_maps(test)
    assert maps.shape == (len(test), *test.size)


def test_needs_an_unlabeled_set(tiny_data):
    detector = BrainomalyDetector.from_preset("tiny", {"selection": "last"}, device="cpu")
    with pytest.raises(BenchError, match="unlabeled"):
        detector.fit(TrainData(tiny_data.split("train_normal")))


def test_paper_preset_is_the_authors_schedule():
    c = BrainomalyDetector.preset("paper")
    assert (c.g_lr, c.d_lr, c.beta1, c.beta2, c.n_critic, c.batch_size, c.iterations) == \
        (1e-4, 1e-4, 0.5, 0.999, 2, 16, 400_000)
    assert (c.image_size, c.channels, c.lambda_gp, c.lambda_id, c.selection) == (192, 3, 10.0, 1.0, "aucp")
    assert (c.g_conv_dim, c.g_res_blocks, c.d_conv_dim, c.checkpoint_every, c.lr_decay_iters) == \
        (64, 6, 64, 10_000, 100_000)
