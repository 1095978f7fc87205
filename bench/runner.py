"""Plans the grid (method x dataset x seed) and executes each run into its run folder.

One run: prepare data -> detector.fit -> score val/held-out/test -> metrics -> scores.parquet + run.json.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import registry
from bench.config import config_to_dict, route_overrides
from bench.data.adapter import PreparedData
from bench.detector import Detector, ImageSet, TrainData
from bench.device import resolve_device, seed_everything
from bench.metric_table import METRICS
from bench.metrics import ThresholdPolicy, bootstrap_ci, evaluate
from bench.progress import Progress
from bench.provenance import device_info, git_commit, package_versions, peak_memory_mb
from bench.store import (
    SCHEMA_VERSION,
    SCORES_FILE,
    atomic_write,
    atomic_write_json,
    atomic_write_parquet,
    is_complete,
    read_run,
    run_dir,
    run_id,
)

HELD_OUT_NORMAL_FRACTION = 0.1  # carved from train_normal for normal-quantile thresholds when there is no val split
N_SAMPLE_MAPS = 8  # per class, saved for qualitative figures


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run: which method on which data set, with which seed, preset and overrides."""

    method: str
    dataset: str
    seed: int
    preset: str
    overrides: Mapping[str, str]
    data_overrides: Mapping[str, str]
    threshold_policy: str | None = None

    @property
    def run_id(self) -> str:
        extra = dict(self.overrides)
        if self.threshold_policy:
            extra["threshold_policy"] = self.threshold_policy
        return run_id(self.preset, self.seed, extra, self.data_overrides)


@dataclasses.dataclass
class RunOutcome:
    spec: RunSpec
    folder: Path
    status: str  # complete | skipped | failed
    metrics: dict[str, Any] | None = None
    error: str | None = None


def plan(method_names: list[str], dataset: str, seeds: list[int], preset: str, assignments: Mapping[str, str],
         threshold_policy: str | None = None) -> list[RunSpec]:
    """Validate names, presets and `--set` keys now (before anything trains) and return the runs to do."""
    classes = {name: registry.get_method(name) for name in method_names}
    adapter = registry.get_dataset(dataset)
    per_method, data_overrides = route_overrides(assignments, {n: c.config_class for n, c in classes.items()},
                                                 adapter.options_class)
    adapter.make_options(data_overrides)
    for name, cls in classes.items():
        cls.preset(preset, per_method[name])
    if threshold_policy:
        ThresholdPolicy.parse(threshold_policy)
    return [RunSpec(name, dataset, seed, preset, per_method[name], data_overrides, threshold_policy)
            for seed in seeds for name in method_names]


def held_out_normals(prepared: PreparedData) -> np.ndarray:
    """Indices (into train_normal) held out for normal-quantile thresholds, drawn by the split seed."""
    n = int((prepared.manifest["split"] == "train_normal").sum())
    n_held = max(1, int(round(n * HELD_OUT_NORMAL_FRACTION)))
    rng = np.random.default_rng(int(prepared.options.get("split_seed", 0)) + 7919)
    return np.sort(rng.permutation(n)[:n_held])


def default_policy(has_val: bool) -> ThresholdPolicy:
    return ThresholdPolicy.parse("val-f1" if has_val else "normal-quantile:0.95")


def execute(spec: RunSpec, prepared: PreparedData, runs_root: Path, *, device: str = "auto", force: bool = False,
            progress: Progress | None = None) -> RunOutcome:
    """Do one run into its folder. A complete run is skipped unless `force`; a failure is recorded, not raised."""
    folder = run_dir(runs_root, spec.dataset, spec.method, spec.run_id)
    if is_complete(folder) and not force:
        return RunOutcome(spec, folder, "skipped", read_run(folder)["metrics"])  # type: ignore[index]
    if force and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    record: dict[str, Any] = {
        "schema": SCHEMA_VERSION, "status": "running", "run_id": spec.run_id, "method": spec.method,
        "dataset": spec.dataset, "seed": spec.seed, "preset": spec.preset, "overrides": dict(spec.overrides),
        "data_overrides": dict(spec.data_overrides), "started_at": started.isoformat(timespec="seconds"),
        "versions": package_versions(), "git": git_commit(),
    }
    atomic_write_json(folder / "run.json", record)
    try:
        record.update(_train_and_score(spec, prepared, folder, device, progress or Progress()))
        record["status"] = "complete"
    except KeyboardInterrupt:
        record.update(status="interrupted", error="interrupted by the user; run the same command again to resume")
        atomic_write_json(folder / "run.json", record)
        raise
    except Exception as exc:  # noqa: BLE001 - every failure is recorded with its traceback, never as NaN metrics
        record.update(status="failed", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc())
    record["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    atomic_write_json(folder / "run.json", record)
    return RunOutcome(spec, folder, record["status"], record.get("metrics"), record.get("error"))


def _train_and_score(spec: RunSpec, prepared: PreparedData, folder: Path, device: str,
                     progress: Progress) -> dict[str, Any]:
    cls: type[Detector] = registry.get_method(spec.method)
    config = cls.preset(spec.preset, spec.overrides)
    torch_device = resolve_device(device)
    seed_everything(spec.seed)
    detector = cls(config, seed=spec.seed, device=torch_device, workdir=folder, progress=progress)

    val = prepared.split("val")
    has_val = len(val) > 0 and len(set(val.labels.tolist())) == 2
    policy = ThresholdPolicy.parse(spec.threshold_policy) if spec.threshold_policy else default_policy(has_val)
    normal = prepared.split("train_normal")
    held_out = None
    if policy.name == "normal-quantile":
        held_index = held_out_normals(prepared)
        held_out = normal.subset(held_index)
        normal = normal.subset(np.setdiff1d(np.arange(len(normal)), held_index))
    unlabeled = prepared.split("train_unlabeled").without_labels() if cls.uses_unlabeled else None
    if unlabeled is not None and len(unlabeled) == 0:
        unlabeled = None
    train = TrainData(normal, unlabeled)

    start = time.perf_counter()
    detector.fit(train, val=val if has_val else None)
    fit_seconds = time.perf_counter() - start

    start = time.perf_counter()
    test = prepared.split("test")
    test_scores = detector.score(test)
    score_seconds = time.perf_counter() - start
    val_scores = detector.score(val) if has_val else None
    held_scores = detector.score(held_out) if held_out is not None else None

    metrics = evaluate(test.labels, test_scores, policy,
                       val=(val.labels, val_scores) if val_scores is not None else None, normal_scores=held_scores)
    ci = bootstrap_ci(test.labels, test_scores, threshold=metrics["threshold"], seed=spec.seed)
    _write_scores(folder, {"test": (test, test_scores), "val": (val, val_scores),
                           "held_out_normal": (held_out, held_scores)})
    detector.save(folder / "detector.pt")
    _save_sample_maps(detector, test, folder)
    return {
        "config": config_to_dict(config),
        "method_info": {"uses_unlabeled": cls.uses_unlabeled, **detector.run_info()},
        "selection": getattr(config, "selection", "last"),
        "data": {"split_id": prepared.split_id, "image_size": prepared.size, "channels": prepared.channels,
                 "options": prepared.options, "counts": {k: {str(lbl): n for lbl, n in v.items()}
                                                         for k, v in prepared.counts().items()},
                 "n_train_normal": len(normal), "n_train_unlabeled": 0 if unlabeled is None else len(unlabeled),
                 "n_held_out_normal": 0 if held_out is None else len(held_out)},
        "threshold_policy": str(policy), "test_oracle": policy.uses_test,
        "metrics": metrics, "ci95": {k: list(v) for k, v in ci.items()},
        "timings": {"fit_s": fit_seconds, "score_test_s": score_seconds,
                    "test_images_per_s": len(test) / max(score_seconds, 1e-9)},
        "memory": peak_memory_mb(torch_device), "device": device_info(torch_device),
    }


def _write_scores(folder: Path, parts: Mapping[str, tuple[ImageSet | None, np.ndarray | None]]) -> None:
    frames = [pd.DataFrame({"id": images.ids, "label": images.labels, "split": split, "score": scores})
              for split, (images, scores) in parts.items() if images is not None and scores is not None]
    atomic_write_parquet(folder / SCORES_FILE, pd.concat(frames, ignore_index=True))


def _save_sample_maps(detector: Detector, test: ImageSet, folder: Path) -> None:
    """A few normal and abnormal test images with their anomaly maps, for qualitative figures."""
    picks = np.concatenate([np.flatnonzero(test.labels == label)[:N_SAMPLE_MAPS] for label in (0, 1)])
    sample = test.subset(picks)
    maps = detector.anomaly_maps(sample)
    if maps is None:
        return
    arrays = {"ids": sample.ids, "labels": sample.labels, "images": sample.images,
              "maps": np.asarray(maps, dtype=np.float32)}
    restored = detector.restored_images(sample)
    if restored is not None:
        arrays["restored"] = np.asarray(restored, dtype=np.uint8)

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    atomic_write(folder / "sample_maps.npz", write)


def summarize(outcomes: list[RunOutcome]) -> pd.DataFrame:
    """One row per run: method, seed, status and the main metrics."""
    rows = []
    for outcome in outcomes:
        row = {"method": outcome.spec.method, "seed": outcome.spec.seed, "status": outcome.status}
        row.update({k: (outcome.metrics or {}).get(k) for k in METRICS})
        row["error"] = outcome.error
        rows.append(row)
    return pd.DataFrame(rows)

