"""The runner and store: run records, skipping complete runs, recording failures, determinism."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench.core import registry
from bench.core.detector import Detector
from bench.data.adapter import HELD_OUT_NORMAL_FRACTION
from bench.runs.execute import execute
from bench.runs.identity import run_dir
from bench.runs.plan import plan
from bench.runs.scan import is_complete, iter_runs
from bench.testing import TINY_DATA, synthetic_data


@pytest.fixture
def prepared(tiny_data):
    """The session's tiny synthetic set (read-only)."""
    return tiny_data


def test_run_writes_a_complete_record(prepared, tmp_path):
    (spec,) = plan(["pca"], "synthetic", [0], "smoke", {})
    outcome = execute(spec, prepared, tmp_path)
    assert outcome.status == "complete"
    record = json.loads((outcome.folder / "run.json").read_text())
    for key in ("config", "versions", "git", "device", "timings", "memory", "metrics", "ci95", "threshold_policy"):
        assert key in record, key
    assert record["data"]["split_id"] == prepared.split_id
    assert record["threshold_policy"] == "val-f1" and record["test_oracle"] is False
    scores = pd.read_parquet(outcome.folder / "scores.parquet")
    assert set(scores["split"]) == {"test", "val"}
    assert (scores.loc[scores["split"] == "test", "label"].to_numpy() >= 0).all()
    assert (outcome.folder / "detector.pt").is_file() and (outcome.folder / "sample_maps.npz").is_file()


def test_complete_run_is_skipped_unless_forced(prepared, tmp_path):
    (spec,) = plan(["pca"], "synthetic", [0], "smoke", {})
    execute(spec, prepared, tmp_path)
    assert execute(spec, prepared, tmp_path).status == "skipped"
    assert execute(spec, prepared, tmp_path, force=True).status == "complete"


def test_same_seed_gives_identical_scores(prepared, tmp_path):
    (spec,) = plan(["pca"], "synthetic", [3], "smoke", {})
    first = execute(spec, prepared, tmp_path / "a")
    second = execute(spec, prepared, tmp_path / "b")
    a, b = (pd.read_parquet(o.folder / "scores.parquet") for o in (first, second))
    np.testing.assert_array_equal(a["score"].to_numpy(), b["score"].to_numpy())


def test_overrides_get_their_own_run_folder(prepared, tmp_path):
    (plain,) = plan(["pca"], "synthetic", [0], "smoke", {})
    (other,) = plan(["pca"], "synthetic", [0], "smoke", {"n_components": "5"})
    assert plain.run_id(prepared) != other.run_id(prepared)
    assert plain.run_id(prepared).startswith("smoke-seed0-") and other.run_id(prepared).startswith("smoke-")
    assert other.overrides == {"n_components": "5"}


@pytest.mark.parametrize(("key", "spelling", "respelled", "other"), [
    ("n_components", "0.5", "5e-1", "0.25"), ("whiten", "true", "yes", "false"),
    ("max_train_images", "1_000", "1000", "999")])
def test_equal_settings_spelled_otherwise_are_one_run(key, spelling, respelled, other):
    """Identity hashes parsed values: `whiten=true` and `whiten=yes` are one configuration, one folder."""
    (a,) = plan(["pca"], "synthetic", [0], "smoke", {key: spelling})
    (b,) = plan(["pca"], "synthetic", [0], "smoke", {key: respelled})
    (c,) = plan(["pca"], "synthetic", [0], "smoke", {key: other})
    assert a.config_id == b.config_id != c.config_id
    assert a.legacy_config_id != b.legacy_config_id  # what bench hashed before: the text as typed


def test_a_run_an_earlier_bench_wrote_under_another_spelling_is_found_not_repeated(prepared, tmp_path):
    """Before identity hashed parsed values, `n_components=0.5` made a folder named by the hash of the text "0.5".
    That run (renamed here to its old id, with the old config id in its record) is found for `5e-1`, not re-run."""
    (spec,) = plan(["pca"], "synthetic", [0], "smoke", {"n_components": "0.5"})
    done = execute(spec, prepared, tmp_path)
    old_id = done.folder.name.replace(spec.config_id, spec.legacy_config_id)
    assert old_id != done.folder.name
    old_folder = done.folder.rename(done.folder.with_name(old_id))
    record = json.loads((old_folder / "run.json").read_text())
    record.update(run_id=old_id, config_id=spec.legacy_config_id)
    (old_folder / "run.json").write_text(json.dumps(record))

    (respelled,) = plan(["pca"], "synthetic", [0], "smoke", {"n_components": "5e-1"})
    again = execute(respelled, prepared, tmp_path)
    assert again.status == "skipped" and again.folder == old_folder
    assert sorted(p.name for p in old_folder.parent.iterdir()) == [old_id]
    (other,) = plan(["pca"], "synthetic", [0], "smoke", {"n_components": "0.25"})
    assert execute(other, prepared, tmp_path).folder != old_folder


def test_without_validation_split_the_threshold_comes_from_held_out_normals(tmp_path):
    prepared = synthetic_data(tmp_path / "data", {**TINY_DATA, "n_val": 0})
    (spec,) = plan(["pca"], "synthetic", [0], "smoke", {})
    outcome = execute(spec, prepared, tmp_path / "runs")
    record = json.loads((outcome.folder / "run.json").read_text())
    assert record["threshold_policy"] == "normal-quantile:0.95"
    assert record["data"]["n_held_out_normal"] == round(TINY_DATA["n_normal"] * HELD_OUT_NORMAL_FRACTION)
    assert record["data"]["n_train_normal"] == TINY_DATA["n_normal"] - record["data"]["n_held_out_normal"]


@dataclasses.dataclass(frozen=True)
class BrokenConfig:
    fail: bool = True


class BrokenDetector(Detector):
    """A plugin whose fit raises, to check that failures are recorded and not turned into NaN metrics."""

    name = "broken"
    config_class = BrokenConfig
    presets = {"paper": BrokenConfig(), "fast": BrokenConfig(), "smoke": BrokenConfig()}

    def _fit(self, data, val) -> None:
        raise RuntimeError("the optimiser exploded")

    def _score(self, images):  # pragma: no cover - never reached
        return np.zeros(len(images))

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state) -> None:
        pass


def test_failed_run_is_recorded_with_its_traceback(prepared, tmp_path):
    registry.methods.register("broken", BrokenDetector, in_all=False)
    try:
        (spec,) = plan(["broken"], "synthetic", [0], "smoke", {})
        outcome = execute(spec, prepared, tmp_path)
    finally:
        registry.methods.unregister("broken")
    record = json.loads((outcome.folder / "run.json").read_text())
    assert outcome.status == record["status"] == "failed"
    assert "the optimiser exploded" in record["error"] and "Traceback" in record["traceback"]
    assert record["metrics"] is None, "a failed run has no metrics (never NaN ones)"
    assert not is_complete(outcome.folder)
    assert list(iter_runs(tmp_path)) == []


def test_half_written_run_is_not_complete(tmp_path):
    folder = run_dir(tmp_path, "synthetic", "pca", "smoke-seed0")
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"status": "running"}))
    assert not is_complete(folder)
    (folder / "run.json").write_text(json.dumps({"status": "complete"}))
    assert not is_complete(folder), "a record without its scores is not complete"
