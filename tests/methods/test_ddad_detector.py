"""The DDAD detector end to end on tiny real data: one run trains 2K autoencoders and the ASR-Net, resumes exactly
after an interrupt, records each network's parameters, and trains its UDM on the data set's unlabeled split."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from bench.core.errors import BenchError
from bench.core.images import TrainData
from bench.core.interrupts import TrainingInterrupted
from bench.core.progress import Progress, ProgressTask
from bench.methods.ddad.detector import DDADDetector
from bench.methods.ddad.networks import RefineNet, build_backbone, count_parameters

# 48 normals, 32 unlabeled at batch 16: 5 steps per UDM epoch, 3 per NDM epoch, 2 epochs each; the ASR-Net 1 step.
# Steps: udm-1 1-10, udm-2 11-20, udm-3 21-30, ndm-1 31-36, ndm-2 37-42, ndm-3 43-48, asr 49.
TINY_RUN = {"batch_size": "16", "epochs": "2", "checkpoint_every": "1"}


def train_data(prepared) -> TrainData:
    return TrainData(prepared.split("train_normal"), prepared.split("train_unlabeled").without_labels())


def detector(workdir=None, progress=None, **overrides) -> DDADDetector:
    return DDADDetector.from_preset("tiny", {**TINY_RUN, **overrides}, seed=3, device="cpu", workdir=workdir,
                                    progress=progress)


class SignalAt(Progress):
    """Sends this process SIGINT when the bar reaches `step`, as a Ctrl-C in a terminal does."""

    def __init__(self, step: int) -> None:
        self.step = step

    def task(self, description: str, total: int | None = None, completed: int = 0) -> ProgressTask:
        stop = self.step

        class Bar(ProgressTask):
            done = completed

            def advance(self, n: int = 1, **fields) -> None:
                self.done += n
                if self.done == stop:
                    os.kill(os.getpid(), signal.SIGINT)

        return Bar()


@pytest.fixture(scope="module")
def straight(tiny_data, tmp_path_factory):
    return detector(tmp_path_factory.mktemp("straight")).fit(train_data(tiny_data))


def test_one_run_trains_seven_networks_and_records_their_parameters(straight):
    info = straight.run_info()["training"]
    assert info["phases"] == ["udm-1", "udm-2", "udm-3", "ndm-1", "ndm-2", "ndm-3", "asr"]
    assert info["steps"] == 49 and info["resumed_from"] == 0
    ae = count_parameters(build_backbone("ae", latent_size=16, multiplier=0.5, image_size=32, mem_dim=25,
                                         shrink_threshold=0.0))
    assert info["parameters"] == {**{f"{m}-{i}": ae for m in ("udm", "ndm") for i in (1, 2, 3)},
                                  "asr": count_parameters(RefineNet(2, 2, 32))}
    assert "never chosen on the test split" in straight.run_info()["checkpoint_selection_note"]


def test_the_udm_trains_on_normals_and_the_unlabeled_split(straight, tiny_data):
    images = straight.run_info()["training"]["images"]
    assert images == {"normal": len(tiny_data.split("train_normal")),
                      "mixed": len(tiny_data.split("train_normal")) + len(tiny_data.split("train_unlabeled"))}


def test_without_the_unlabeled_set_it_refuses(tiny_data):
    with pytest.raises(BenchError, match="unlabeled"):
        detector().fit(TrainData(tiny_data.split("train_normal")))


def test_resumed_run_scores_like_an_uninterrupted_one(straight, tiny_data, tmp_path, interrupt_at):
    with pytest.raises(KeyboardInterrupt):  # at step 28, in udm-3's second epoch: its first epoch was saved
        detector(tmp_path / "cut", progress=interrupt_at(28)).fit(train_data(tiny_data))
    resumed = detector(tmp_path / "cut").fit(train_data(tiny_data))
    assert resumed.run_info()["training"]["resumed_from"] == 25
    test = tiny_data.split("test")
    np.testing.assert_array_equal(resumed.score(test), straight.score(test))


def test_a_signal_stops_between_steps_and_the_run_continues_from_there(straight, tiny_data, tmp_path):
    with pytest.raises(TrainingInterrupted, match="ndm-2"):  # mid-epoch: step 39 is ndm-2's third
        detector(tmp_path / "cut", progress=SignalAt(39)).fit(train_data(tiny_data))
    resumed = detector(tmp_path / "cut").fit(train_data(tiny_data))
    assert resumed.run_info()["training"]["resumed_from"] == 39
    test = tiny_data.split("test")
    np.testing.assert_array_equal(resumed.score(test), straight.score(test))


def test_another_configuration_does_not_resume_this_one(straight, tiny_data, tmp_path, interrupt_at):
    with pytest.raises(KeyboardInterrupt):
        detector(tmp_path / "cut", progress=interrupt_at(12)).fit(train_data(tiny_data))
    with pytest.raises(BenchError, match="another configuration"):
        detector(tmp_path / "cut", lr="0.001").fit(train_data(tiny_data))


@pytest.mark.parametrize("backbone,score", [("ae-u", "r-intra"), ("memae", "inter"), ("ae", "rec")])
def test_every_backbone_and_score_fits_and_maps(tiny_data, backbone, score):
    fitted = detector(backbone=backbone, score=score, epochs="1").fit(train_data(tiny_data))
    test = tiny_data.split("test").subset(slice(0, 4))
    scores, maps = fitted.score(test), fitted.anomaly_maps(test)
    assert np.isfinite(scores).all() and maps.shape == (4, *test.size)
    assert ("asr" in fitted.run_info()["training"]["parameters"]) == score.startswith("r-")
    np.testing.assert_allclose(scores, maps.mean(axis=(1, 2)), rtol=0.05)  # the score is its map's mean


def test_cost_probe_counts_the_runs_steps_and_networks():
    import torch

    from bench.core.cost import DataShape

    config = DDADDetector.preset("tiny", TINY_RUN)
    shape = DataShape("synthetic", 64, 1, {"train_normal": 48, "train_unlabeled": 32, "val": 16, "test": 24})
    probe = DDADDetector.cost_probe(config, shape, torch.device("cpu"))
    assert probe.steps == 49  # as the fit above: 3 x 10 + 3 x 6 + 1
    ae = count_parameters(build_backbone("ae", latent_size=16, multiplier=0.5, image_size=32, mem_dim=25,
                                         shrink_threshold=0.0))
    assert probe.parameters == 6 * ae + count_parameters(RefineNet(2, 2, 32))
    assert probe.seconds_per_step > 0 and probe.wall_seconds > 0
