"""`--set selection=aucp` for every GAN (bench.methods._gan.selection): the pseudo-AUC of Brainomaly's paper with
held-out unlabeled images as positives and held-out known normals as negatives. It must pick the checkpoint with the
highest AUCp, hold its images out of training, and read no label at all (so never a test label)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from bench.core.errors import BenchError
from bench.core.images import ImageSet, TrainData
from bench.methods._gan.data import hold_out
from bench.methods._gan.selection import AUCpSelector, make_selector, setup_selection
from bench.methods.healthygan.detector import HealthyGANDetector
from bench.methods.sagan.detector import SAGANDetector
from bench.runs.execute import execute
from bench.runs.plan import plan

TINY_RUN = {"image_size": "16", "g_conv_dim": "4", "g_res_blocks": "1", "d_conv_dim": "4", "iterations": "8",
            "batch_size": "4", "checkpoint_every": "2", "log_every": "2", "fid_holdout": "6"}


def train_data(prepared) -> TrainData:
    return TrainData(prepared.split("train_normal"), prepared.split("train_unlabeled").without_labels())


def mean_intensity(images: ImageSet) -> np.ndarray:
    return np.asarray(images.images, dtype=np.float64).reshape(len(images), -1).mean(axis=1)


def test_aucp_is_the_auc_of_unlabeled_against_normal(tiny_data):
    unlabeled, normal = tiny_data.split("train_unlabeled").without_labels(), tiny_data.split("train_normal")
    value = AUCpSelector(mean_intensity, unlabeled, normal).evaluate()
    targets = [1] * len(unlabeled) + [0] * len(normal)
    expected = roc_auc_score(targets, np.concatenate([mean_intensity(unlabeled), mean_intensity(normal)]))
    assert value == pytest.approx(expected) and 0 < value < 1
    assert make_selector("aucp", score=mean_intensity, aucp_unlabeled=unlabeled, aucp_normal=normal).name == "aucp"


def test_aucp_reads_no_label(tiny_data):
    """The same value whatever labels the images carry (the targets come from which set an image is in)."""
    unlabeled, normal = tiny_data.split("train_unlabeled"), tiny_data.split("train_normal")
    relabelled = [ImageSet(s.images, np.random.default_rng(0).integers(0, 2, len(s)), s.ids) for s in (unlabeled,
                                                                                                         normal)]
    assert AUCpSelector(mean_intensity, unlabeled.without_labels(), normal).evaluate() == \
        AUCpSelector(mean_intensity, *relabelled).evaluate()


def test_aucp_holds_its_images_out_of_training(tiny_data):
    unlabeled, normal = tiny_data.split("train_unlabeled").without_labels(), tiny_data.split("train_normal")
    setup = setup_selection("aucp", unlabeled, normal, device=torch.device("cpu"), size=16, channels=1, holdout=6,
                            seed=3, score=mean_intensity, translate=lambda x: x)
    held_unlabeled, held_normal = setup.selector.unlabeled, setup.selector.normal
    assert (len(held_unlabeled), len(held_normal)) == (6, 6)
    assert len(setup.unlabeled) == len(unlabeled) - 6 and len(setup.normal) == len(normal) - 6
    assert not set(held_unlabeled.ids) & set(setup.unlabeled.ids)
    assert not set(held_normal.ids) & set(setup.normal.ids)
    # the same draw as FID's hold-out, so both label-free policies train on the same images
    np.testing.assert_array_equal(hold_out(unlabeled, 6, 3 + 101)[1].ids, held_unlabeled.ids)


def test_aucp_needs_held_out_images_of_both_sets(tiny_data):
    normal = tiny_data.split("train_normal")
    with pytest.raises(BenchError, match="aucp"):
        setup_selection("aucp", normal.subset(slice(0, 4)).without_labels(), normal, device=torch.device("cpu"),
                        size=16, channels=1, holdout=6, seed=0, score=mean_intensity, translate=lambda x: x)


@pytest.mark.parametrize("cls", [HealthyGANDetector, SAGANDetector], ids=["healthygan", "sagan"])
def test_every_gan_selects_the_checkpoint_with_the_highest_aucp(cls, tiny_data, tmp_path):
    """At each checkpoint AUCp is computed on the held-out sets; the kept weights are the best checkpoint's: their
    AUCp, recomputed after fit on the same held-out images, is the recorded best value."""
    overrides = {**TINY_RUN, "selection": "aucp"} if cls is HealthyGANDetector else \
        {**TINY_RUN, "image_size": "32", "selection": "aucp"}
    fitted = cls.from_preset("smoke", overrides, seed=3, device="cpu", workdir=tmp_path).fit(train_data(tiny_data))
    selection = fitted.train_info_["selection"]
    assert selection["policy"] == "aucp" and [i for i, _ in selection["history"]] == [2, 4, 6, 8]
    values = [v for _, v in selection["history"]]
    assert selection["best_value"] == max(values)
    assert selection["best_iteration"] == selection["history"][values.index(max(values))][0]
    data = train_data(tiny_data)
    held_unlabeled, held_normal = hold_out(data.unlabeled, 6, 3 + 101)[1], hold_out(data.normal, 6, 3 + 202)[1]
    assert AUCpSelector(fitted.score, held_unlabeled, held_normal).evaluate() == pytest.approx(selection["best_value"])


def test_aucp_selection_uses_no_validation_split(tiny_data, tmp_path):
    """The labelled validation split, the only labelled images a fit ever receives (the test split never reaches
    fit), changes nothing: the same history with and without it."""
    runs = []
    for name, val in (("without", None), ("with", tiny_data.split("val"))):
        detector = HealthyGANDetector.from_preset("smoke", {**TINY_RUN, "iterations": "4", "selection": "aucp"},
                                                  seed=3, device="cpu", workdir=tmp_path / name)
        runs.append(detector.fit(train_data(tiny_data), val=val).train_info_["selection"]["history"])
    assert runs[0] == runs[1] and len(runs[0]) == 2


def test_run_json_records_the_aucp_selection(tiny_data, tmp_path):
    (spec,) = plan(["healthygan"], "synthetic", [0], "tiny", {"selection": "aucp", "fid_holdout": "6"})
    outcome = execute(spec, tiny_data, tmp_path, device="cpu")
    assert outcome.status == "complete", outcome.error
    record = json.loads((outcome.folder / "run.json").read_text())
    selection = record["method_info"]["training"]["selection"]
    assert selection["policy"] == "aucp" and selection["history"] and selection["best_iteration"] is not None
    assert record["config"]["selection"] == "aucp"


