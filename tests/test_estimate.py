"""`bench run --dry-run`: the per-run cost probes (real networks, random images), the disk model against a real run
folder, and the command end to end (prints the grid, writes nothing)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from bench.core import registry
from bench.core.cost import DataShape, peak_memory, state_size
from bench.core.detector import probe_fit_on_sample
from bench.datasets.synthetic import SyntheticDataset
from bench.methods._gan.networks import count_parameters
from bench.runs.dry_run import data_shape, disk_bytes, estimate_runs, human_bytes, human_seconds
from bench.runs.execute import execute
from bench.runs.plan import plan
from tests.cli_helpers import bench_in_process

CPU = torch.device("cpu")
SHAPE = DataShape("synthetic", 64, 1, {"train_normal": 48, "train_unlabeled": 32, "val": 16, "test": 24})


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_data_shape_comes_from_the_protocol_without_touching_the_data(tmp_path):
    adapter = SyntheticDataset(tmp_path / "data", SyntheticDataset.make_options({"n_normal": 40, "n_test": 10}))
    shape = data_shape(adapter)
    assert (shape.size, shape.channels) == (64, 1)
    assert shape.counts["train_normal"] == 40 and shape.counts["test"] == 20
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("name", ["healthygan", "sagan", "brainomaly"])
def test_gan_probe_times_the_presets_networks_and_counts_its_iterations(name):
    cls = registry.get_method(name)
    config = cls.preset("tiny")
    probe = cls.cost_probe(config, SHAPE, CPU)
    generator, critic = cls.recipe.build_networks(config, config.image_size)
    assert probe.parameters == count_parameters(generator) + count_parameters(critic)
    assert probe.steps == config.iterations and probe.seconds_per_step > 0
    assert probe.wall_seconds > probe.seconds_per_step * probe.steps  # scoring comes on top
    assert probe.state_bytes >= 4 * count_parameters(generator)
    assert probe.checkpoint_bytes >= 3 * 4 * probe.parameters  # weights and Adam's two moments
    assert probe.peak_memory_mb is not None and probe.peak_memory_mb > 0


def test_gan_probe_counts_what_each_checkpoint_writes():
    """A checkpoint writes last.pt, maybe best.pt and samples.png: the estimate grows with their number (it once
    counted only the selection's scoring, and a short run came out a third over its estimate)."""
    from bench.methods._gan.accel import Accel
    from bench.methods._gan.probe import checkpoint_seconds

    cls = registry.get_method("healthygan")
    config = cls.preset("tiny", {"iterations": 40, "checkpoint_every": 40, "selection": "last"})
    generator, critic = cls.recipe.build_networks(config, config.image_size)
    per_checkpoint = checkpoint_seconds(cls.recipe, generator, critic, config, Accel.for_device(CPU, mode="off"),
                                        config.image_size)
    assert per_checkpoint > 0
    once = cls.cost_probe(config, SHAPE, CPU)
    often = cls.cost_probe(cls.preset("tiny", {"iterations": 40, "checkpoint_every": 1, "selection": "last"}),
                           SHAPE, CPU)
    assert often.extra_seconds - once.extra_seconds > 39 * per_checkpoint / 3  # timings vary; 39 more checkpoints

@pytest.mark.parametrize("name", registry.methods.names())
def test_every_registered_method_has_a_cost_probe_that_runs(name):
    """`--dry-run` works for every method (f-AnoGAN's and ALAD's probes once called G on images: a traceback)."""
    cls = registry.get_method(name)
    probe = cls.cost_probe(cls.preset("tiny"), SHAPE, CPU)
    assert probe.steps > 0 and probe.seconds_per_step > 0 and probe.wall_seconds > 0
    assert probe.state_bytes > 0


def test_the_default_probe_fits_a_sample_and_scales_to_the_training_set():
    cls = registry.get_method("pca")
    probe = probe_fit_on_sample(cls, cls.preset("tiny"), SHAPE, CPU)
    assert probe.steps == SHAPE.count("train_normal") and probe.seconds_per_step > 0
    assert probe.state_bytes > 4 * 64 * 64  # at least the mean image
    assert "scaled linearly" in probe.notes[0]


def test_seeds_share_one_probe_and_overrides_get_their_own(tmp_path):
    adapter = SyntheticDataset(tmp_path / "data", SyntheticDataset.make_options({"n_normal": 40}))
    specs = plan(["pca"], "synthetic", [0, 1], "tiny", {})
    specs += plan(["pca"], "synthetic", [0], "tiny", {"n_components": "3"})
    estimates = estimate_runs(specs, adapter, CPU)
    assert estimates[0].probe is estimates[1].probe and estimates[2].probe is not estimates[0].probe
    assert [e.spec.seed for e in estimates] == [0, 1, 0]


def test_pca_state_estimate_bounds_a_real_fit(small_data):
    from bench.core.images import TrainData

    cls = registry.get_method("pca")
    shape = DataShape("synthetic", small_data.size, small_data.channels,
                      {split: sum(labels.values()) for split, labels in small_data.counts().items()})
    probe = cls.cost_probe(cls.preset("paper"), shape, CPU)
    fitted = cls.from_preset("paper", device="cpu").fit(TrainData(small_data.split("train_normal")))
    assert state_size(fitted.state_dict()) <= probe.state_bytes
    assert probe.steps == 1 and probe.seconds_per_step > 0


def test_disk_estimate_is_within_a_factor_of_two_of_a_real_run_folder(small_data, tmp_path):
    (spec,) = plan(["healthygan"], "synthetic", [0], "tiny", {})
    outcome = execute(spec, small_data, tmp_path)
    assert outcome.status == "complete", outcome.error
    cls = registry.get_method("healthygan")
    shape = DataShape("synthetic", small_data.size, small_data.channels,
                      {split: sum(labels.values()) for split, labels in small_data.counts().items()})
    probe = cls.cost_probe(cls.preset("tiny", dataset="synthetic"), shape, CPU)
    actual, estimated = folder_bytes(outcome.folder), disk_bytes(probe, shape)
    assert actual / 2 <= estimated <= actual * 2, (human_bytes(actual), human_bytes(estimated))


@pytest.mark.parametrize("name", ["padim", "patchcore", "ganomaly"])
def test_anomalib_probes_run_offline_with_a_random_backbone(name):
    cls = registry.get_method(name)
    config = cls.preset("tiny")
    probe = cls.cost_probe(config, SHAPE, CPU)
    assert probe.seconds_per_step > 0 and probe.parameters > 0
    assert probe.steps >= -(-SHAPE.count("train_normal") // config.batch_size)  # at least one epoch of batches
    assert probe.state_bytes >= 4 * probe.parameters


def test_patchcore_memory_bank_grows_with_the_training_set():
    cls = registry.get_method("patchcore")
    config = cls.preset("tiny")
    small = cls.cost_probe(config, SHAPE, CPU)
    large = cls.cost_probe(config, DataShape("synthetic", 64, 1, {"train_normal": 4800, "test": 24}), CPU)
    assert large.state_bytes > small.state_bytes


def test_peak_memory_on_cpu_sees_a_large_allocation():
    with peak_memory(CPU) as before:
        pass
    with peak_memory(CPU) as peak:
        block = torch.ones(64 * 2**20)  # 256 MiB
        del block
    assert peak.mb is not None and before.mb is not None and peak.mb >= before.mb + 200


def test_human_units():
    assert human_seconds(42) == "42 s" and human_seconds(5400) == "1.5 h" and human_seconds(3 * 86400) == "3.0 d"
    assert human_bytes(3 * 2**20) == "3.0 MB" and human_seconds(None) == "?"


def test_dry_run_prints_the_grid_and_writes_nothing(tmp_path):
    result = bench_in_process("run", "--methods", "pca,healthygan", "--dataset", "synthetic", "--preset", "tiny",
                              "--seeds", "0,1", "--root", str(tmp_path / "data"), "--runs", str(tmp_path / "runs"),
                              "--set", "data.n_normal=40", "--dry-run")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "est. wall" in out and "40 train_normal" in out and "2 run(s)" not in out and "4 run(s)" in out
    rows = [line for line in out.splitlines() if line.startswith(("│ pca ", "│ healthy"))]
    assert len(rows) == 4
    assert not (tmp_path / "runs").exists() and not (tmp_path / "data").exists()


def test_localisation_step_is_in_the_estimate_where_the_data_set_has_masks(tmp_path):
    """Scoring maps against masks pools every test pixel (15 GB at 20,000 test images of 128 px before
    pixel_metrics swept in blocks): the dry run adds its time and memory where the adapter reads masks."""
    from bench.datasets.chestxray14 import ChestXray14Dataset
    from bench.runs.dry_run import (
        LOCALISATION_BYTES_PER_PIXEL,
        LocalisationCost,
        localisation_cost,
        with_localisation,
    )

    adapter = SyntheticDataset(tmp_path / "data", SyntheticDataset.make_options({"n_normal": 40, "n_test": 10}))
    cost = localisation_cost(adapter, data_shape(adapter))
    assert cost is not None and cost.pixels == 20 * 64 * 64 and cost.seconds > 0
    assert localisation_cost(ChestXray14Dataset(tmp_path / "cx"), SHAPE) is None  # no boxes read: no step
    probe = registry.get_method("pca").cost_probe(registry.get_method("pca").preset("tiny"), SHAPE, CPU)
    resident = dataclasses.replace(probe, fit_transient_mb=0.0)  # nothing freed after the fit: the step on top
    added = with_localisation(resident, cost, host_memory=True)
    assert added.peak_memory_mb - probe.peak_memory_mb >= LOCALISATION_BYTES_PER_PIXEL * cost.pixels / 2**20
    assert added.extra_seconds > probe.extra_seconds
    assert with_localisation(probe, cost, host_memory=False).peak_memory_mb == probe.peak_memory_mb
    # what the fit frees (its data matrix, a memory bank) takes the step's arrays: the peak grows by the rest only
    freed = dataclasses.replace(probe, fit_transient_mb=cost.memory_mb / 4)
    assert with_localisation(freed, cost, host_memory=True).peak_memory_mb == pytest.approx(
        probe.peak_memory_mb + cost.memory_mb * 3 / 4)
    roomy = dataclasses.replace(probe, fit_transient_mb=2 * cost.memory_mb)
    assert with_localisation(roomy, cost, host_memory=True).peak_memory_mb == probe.peak_memory_mb

    # the step's bound holds what pixel_metrics adds (the peak RSS of a fresh process: VmHWM, since ru_maxrss keeps
    # the forking pytest worker's high-water mark across exec) beside the maps and masks the step holds (float32
    # maps, the masks and their copy: 6 bytes per pixel)
    import subprocess
    import sys
    code = ("import re, numpy as np\nfrom bench.metrics.localisation import pixel_metrics\n"
            "hwm = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))\n"
            "maps = np.random.default_rng(0).random((1000, 128, 128), dtype=np.float32)\n"
            "masks = np.zeros(maps.shape, bool); masks[:500, 40:60, 40:70] = True\n"
            "before = hwm()\npixel_metrics(maps, masks)\nprint((hwm() - before) * 1024)")
    added_bytes = float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                       text=True).stdout.split()[-1])
    pixels = 1000 * 128 * 128
    assert added_bytes + 6 * pixels <= LocalisationCost(pixels, 0.0).memory_mb * 2**20, added_bytes / pixels
