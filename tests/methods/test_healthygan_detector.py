"""The HealthyGAN detector end to end on tiny real data: resume, run-folder outputs, selection policies."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch

from bench.core.errors import BenchError
from bench.core.images import TrainData
from bench.core.progress import Progress
from bench.methods._gan import Accel
from bench.methods._gan.trainer import train
from bench.methods.healthygan.detector import HealthyGANDetector
from bench.methods.healthygan.presets import PRESETS
from bench.methods.healthygan.trainer import RECIPE, build_networks
from bench.runs.execute import execute
from bench.runs.plan import plan
from bench.testing import TINY_DATA, synthetic_data

TINY_RUN = {"image_size": "16", "g_conv_dim": "4", "g_res_blocks": "1", "d_conv_dim": "4", "iterations": "8",
            "batch_size": "4", "checkpoint_every": "4", "log_every": "2"}


def train_data(prepared) -> TrainData:
    return TrainData(prepared.split("train_normal"), prepared.split("train_unlabeled").without_labels())


def detector(workdir=None, progress=None, **overrides) -> HealthyGANDetector:
    return HealthyGANDetector.from_preset("smoke", {**TINY_RUN, **overrides}, seed=3, device="cpu",
                                          workdir=workdir, progress=progress)


def test_resumed_run_scores_like_an_uninterrupted_one(tiny_data, tmp_path, interrupt_at):
    test = tiny_data.split("test")
    straight = detector(tmp_path / "straight").fit(train_data(tiny_data))
    with pytest.raises(KeyboardInterrupt):
        detector(tmp_path / "cut", progress=interrupt_at(6)).fit(train_data(tiny_data))
    resumed = detector(tmp_path / "cut").fit(train_data(tiny_data))
    assert resumed.train_info_["resumed_from"] == 4
    np.testing.assert_array_equal(resumed.score(test), straight.score(test))


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    """SIGKILL (no chance to clean up) between checkpoints; the same command continues and matches."""
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        import numpy as np
        from bench.core.detector import TrainData
        from bench.datasets.synthetic import SyntheticDataset
        from bench.methods.healthygan.detector import HealthyGANDetector
        adapter = SyntheticDataset(Path(sys.argv[1]), SyntheticDataset.make_options({TINY_DATA!r}))
        prepared = adapter.prepare()
        overrides = {{**{TINY_RUN!r}, "iterations": "60", "checkpoint_every": "10"}}
        det = HealthyGANDetector.from_preset("smoke", overrides, seed=3, device="cpu", workdir=Path(sys.argv[2]))
        det.fit(TrainData(prepared.split("train_normal"), prepared.split("train_unlabeled").without_labels()))
        np.save(sys.argv[3], det.score(prepared.split("test")))
    """)
    data_root = tmp_path / "data"
    synthetic_data(data_root, TINY_DATA)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def command(workdir, out):
        return [sys.executable, "-c", script, str(data_root), str(workdir), str(out)]

    subprocess.run(command(tmp_path / "straight", tmp_path / "straight.npy"), check=True, env=env)
    process = subprocess.Popen(command(tmp_path / "cut", tmp_path / "cut.npy"), env=env)
    last = tmp_path / "cut" / "checkpoints" / "last.pt"
    while process.poll() is None:
        if last.exists() and torch.load(last, weights_only=True)["iteration"] >= 20:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()
    assert not (tmp_path / "cut.npy").exists(), "the run finished before it could be killed"
    subprocess.run(command(tmp_path / "cut", tmp_path / "cut.npy"), check=True, env=env)
    np.testing.assert_array_equal(np.load(tmp_path / "cut.npy"), np.load(tmp_path / "straight.npy"))


def test_run_folder_gets_loss_csv_checkpoints_and_sample_grid(tiny_data, tmp_path):
    fitted = detector(tmp_path).fit(train_data(tiny_data))
    with open(tmp_path / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {"D", "G", "gp", "id", "rec", "focus"} <= set(rows[0])
    assert [int(r["iteration"]) for r in rows] == [2, 4, 6, 8]
    assert (tmp_path / "checkpoints" / "last.pt").is_file()
    assert (tmp_path / "samples.png").read_bytes()[:4] == b"\x89PNG"
    info = fitted.run_info()["training"]
    assert info["iterations"] == 8 and info["accel"]["amp"] == "fp32" and info["selection"]["policy"] == "last"


def test_val_auc_selection_keeps_the_best_validation_checkpoint(tiny_data, tmp_path):
    fitted = detector(tmp_path, selection="val-auc").fit(train_data(tiny_data), val=tiny_data.split("val"))
    selection = fitted.train_info_["selection"]
    assert [i for i, _ in selection["history"]] == [4, 8]
    assert selection["best_value"] == max(v for _, v in selection["history"])


def test_val_auc_selection_without_a_validation_split_is_an_error(tiny_data):
    with pytest.raises(BenchError, match="validation split"):
        detector(selection="val-auc").fit(train_data(tiny_data))


@pytest.mark.parametrize("with_val, ran", [(True, "val-auc"), (False, "last")])
def test_val_auc_or_last_selects_on_validation_only_where_there_is_one(tiny_data, tmp_path, with_val, ran):
    val = tiny_data.split("val") if with_val else None
    fitted = detector(tmp_path, selection="val-auc-or-last").fit(train_data(tiny_data), val=val)
    selection = fitted.train_info_["selection"]
    assert selection["policy"] == ran
    assert [i for i, _ in selection["history"]] == ([4, 8] if with_val else [])


def test_fid_selection_without_inception_weights_fails_before_training(tiny_data, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # where the network is up, the weights would be downloaded instead
    with pytest.raises(BenchError, match="fid_weights=PATH"):
        detector(tmp_path / "run", selection="fid").fit(train_data(tiny_data))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_fid_selection_holds_out_images_and_picks_the_lowest(tiny_data, tmp_path, small_fid_features):
    config = HealthyGANDetector.preset("smoke", {**TINY_RUN, "selection": "fid", "fid_holdout": "6"})
    torch.manual_seed(0)
    generator, critic = build_networks(config, 16)

    def translate(x):
        image, mask = generator(x)
        return image * mask + x * (1 - mask)

    result, sets = train(RECIPE, generator, critic, train_data(tiny_data), config=config, seed=0,
                         accel=Accel.for_device("cpu"), workdir=tmp_path, progress=Progress(),
                         score=lambda images: np.zeros(len(images)), translate=translate,
                         fid_features=small_fid_features)
    assert len(sets["A"]) == len(tiny_data.split("train_unlabeled")) - 6  # held out from training
    assert len(sets["B"]) == len(tiny_data.split("train_normal")) - 6
    history = result.selection["history"]
    assert [i for i, _ in history] == [4, 8]
    assert result.selection["best_value"] == min(v for _, v in history)


def test_set_overrides_reach_the_config():
    config = HealthyGANDetector.preset("paper", {"n_critic": "5", "amp": "false", "fid_weights": "/w.pth"})
    assert (config.n_critic, config.amp, str(config.fid_weights)) == (5, False, "/w.pth")
    with pytest.raises(BenchError, match="valid keys"):
        HealthyGANDetector.preset("paper", {"not_a_key": "1"})


@pytest.mark.parametrize("dataset, batch", [("chestxray14", 32), ("covidx", 16), ("rsna", 16), ("synthetic", 16)])
def test_paper_batch_is_the_papers_batch_for_the_data_set(dataset, batch):
    assert HealthyGANDetector.preset("paper").batch_size is None  # left to the data set
    assert HealthyGANDetector.preset("paper", dataset=dataset).batch_size == batch


def test_a_batch_size_that_is_set_is_kept_on_every_data_set():
    assert HealthyGANDetector.preset("paper", {"batch_size": "8"}, dataset="chestxray14").batch_size == 8
    assert HealthyGANDetector.preset("smoke", dataset="chestxray14").batch_size == 16


def test_a_batch_left_to_the_data_set_trains_at_16_outside_a_run(tiny_data, monkeypatch):
    from bench.methods._gan import trainer

    sizes, sampler = [], trainer.DeviceSampler
    monkeypatch.setattr(trainer, "DeviceSampler", lambda sets, batch_size, **kw: (
        sizes.append(batch_size), sampler(sets, batch_size, **kw))[1])
    fitted = detector(batch_size="none").fit(train_data(tiny_data))
    assert sizes == [16] and fitted.config.batch_size is None


def test_a_run_records_the_batch_resolved_for_its_data_set(tiny_data, tmp_path, monkeypatch):
    from bench.methods.healthygan import presets

    monkeypatch.setitem(presets.PAPER_BATCH_SIZES, "synthetic", 4)
    (spec,) = plan(["healthygan"], "synthetic", [0], "tiny", {"batch_size": "none", "image_size": "16"})
    outcome = execute(spec, tiny_data, tmp_path)
    assert outcome.status == "complete", outcome.error
    assert json.loads((outcome.folder / "run.json").read_text())["config"]["batch_size"] == 4


def test_presets_keep_cpu_paths_fp32():
    detector_ = HealthyGANDetector(PRESETS["fast"], device="cpu")
    accel = detector_._accel()
    assert (accel.amp, accel.channels_last, accel.compile) == (False, False, False)
