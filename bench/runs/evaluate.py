"""The run step itself, with no files: train a detector on a prepared data set and evaluate it on the test split.

`train_and_evaluate` returns an `Evaluation` (scores, metrics, CIs, sample maps, localisation, counts); the caller
(bench.runs.execute, or `bench.evaluate` in a notebook) decides where it goes. Nothing here writes to disk except
what the detector itself keeps in its work folder (checkpoints)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from bench.core.detector import Detector
from bench.core.images import ImageSet, TrainData
from bench.data.adapter import PreparedData
from bench.metrics.image import ThresholdPolicy, bootstrap_ci, evaluate
from bench.runs.localisation_step import HIT_COLUMN, localisation_rows, score_localisation

N_SAMPLE_MAPS = 8  # per class, kept for qualitative figures


def default_policy(has_val: bool) -> ThresholdPolicy:
    """val-f1 where a labelled validation split exists, else the label-free normal-quantile:0.95."""
    return ThresholdPolicy.parse("val-f1" if has_val else "normal-quantile:0.95")


@dataclasses.dataclass(frozen=True)
class EvaluationData:
    """The images one run trains and is scored on, drawn from prepared data by the run's threshold policy."""

    train: TrainData
    test: ImageSet
    val: ImageSet | None  # a labelled validation split with both classes, else None
    held_out: ImageSet | None  # normals held out of training for normal-quantile thresholds
    policy: ThresholdPolicy


def evaluation_data(prepared: PreparedData, uses_unlabeled: bool, threshold_policy: str | None) -> EvaluationData:
    """Split prepared data for one run: known normals (less the held-out ones a normal-quantile policy needs),
    unlabeled images (labels removed) for semi-supervised methods, validation and test."""
    val = prepared.split("val")
    has_val = len(val) > 0 and len(set(val.labels.tolist())) == 2
    policy = ThresholdPolicy.parse(threshold_policy) if threshold_policy else default_policy(has_val)
    normal = prepared.split("train_normal")
    held_out = None
    if policy.name == "normal-quantile":
        held_index = prepared.held_out_normals()
        held_out = normal.subset(held_index)
        normal = normal.subset(np.setdiff1d(np.arange(len(normal)), held_index))
    unlabeled = prepared.split("train_unlabeled").without_labels() if uses_unlabeled else None
    if unlabeled is not None and len(unlabeled) == 0:
        unlabeled = None
    return EvaluationData(TrainData(normal, unlabeled), prepared.split("test"), val if has_val else None, held_out,
                          policy)


@dataclasses.dataclass
class Evaluation:
    """What one trained detector did on the test split: the scores of every scored image (test, val, held-out
    normals; `pointing_hit` where maps were scored), the metrics with their 95% CIs, a few example maps, the
    localisation entry, and the timings."""

    scores: pd.DataFrame
    metrics: dict[str, Any]
    ci95: dict[str, list[float]]
    policy: ThresholdPolicy
    sample_maps: dict[str, np.ndarray] | None
    localisation: dict[str, Any]
    timings: dict[str, float]


def fit_detector(detector: Detector, data: EvaluationData) -> float:
    """Train `detector` on `data` (validation images for checkpoint selection only); the seconds `fit` took."""
    started = time.perf_counter()
    detector.fit(data.train, val=data.val)
    return time.perf_counter() - started


def evaluate_detector(detector: Detector, data: EvaluationData, prepared: PreparedData, *, seed: int = 0
                      ) -> Evaluation:
    """Score a fitted detector on the test split (and validation / held-out normals for the threshold), compute
    the metrics and their bootstrap CIs, its example maps and localisation metrics."""
    start = time.perf_counter()
    rows = localisation_rows(data.test, prepared.localisation)
    if rows is None:
        test_scores, test_maps = detector.score(data.test), None
    else:  # the localisation step's maps from the same pass (score_test_s includes them)
        test_scores, test_maps = detector.score_with_maps(data.test, rows)
    score_seconds = time.perf_counter() - start
    localisation = score_localisation(detector.name, test_maps, data.test, prepared.localisation, seed=seed)
    del test_maps  # before the other splits are scored: the maps are the step's largest arrays
    val_scores = detector.score(data.val) if data.val is not None else None
    held_scores = detector.score(data.held_out) if data.held_out is not None else None

    metrics = evaluate(data.test.labels, test_scores, data.policy,
                       val=(data.val.labels, val_scores) if data.val is not None else None,
                       normal_scores=held_scores)
    ci = bootstrap_ci(data.test.labels, test_scores, threshold=metrics["threshold"], seed=seed)
    scores = scores_frame({"test": (data.test, test_scores), "val": (data.val, val_scores),
                           "held_out_normal": (data.held_out, held_scores)})
    sample = sample_maps(detector, data.test)
    if localisation.hits is not None:
        by_id = pd.Series(localisation.hits, index=pd.Index(localisation.hit_ids.astype(str)), dtype="Float64")
        column = scores["id"].astype(str).map(by_id).astype("Float64")
        scores[HIT_COLUMN] = column.where(scores["split"] == "test", pd.NA)
    if sample is not None and prepared.localisation is not None and localisation.entry.get("status") == "scored":
        masks, has_mask = prepared.localisation.lookup(sample["ids"].astype(str))
        sample.update(masks=masks, has_mask=has_mask)
    return Evaluation(scores=scores, metrics=metrics, ci95={k: list(v) for k, v in ci.items()}, policy=data.policy,
                      sample_maps=sample, localisation=localisation.entry,
                      timings={"score_test_s": score_seconds,
                               "test_images_per_s": len(data.test) / max(score_seconds, 1e-9)})


def scores_frame(parts: Mapping[str, tuple[ImageSet | None, np.ndarray | None]]) -> pd.DataFrame:
    """One row per scored image: id, label, split, score."""
    frames = [pd.DataFrame({"id": images.ids, "label": images.labels, "split": split, "score": scores})
              for split, (images, scores) in parts.items() if images is not None and scores is not None]
    return pd.concat(frames, ignore_index=True)


def sample_maps(detector: Detector, test: ImageSet) -> dict[str, np.ndarray] | None:
    """A few normal and abnormal test images with their anomaly maps (and restored images where the method has
    them), for qualitative figures; None for a method without maps."""
    picks = np.concatenate([np.flatnonzero(test.labels == label)[:N_SAMPLE_MAPS] for label in (0, 1)])
    sample = test.subset(picks)
    maps = detector.anomaly_maps(sample)
    if maps is None:
        return None
    arrays = {"ids": sample.ids, "labels": sample.labels, "images": sample.images,
              "maps": np.asarray(maps, dtype=np.float32)}
    restored = detector.restored_images(sample)
    if restored is not None:
        arrays["restored"] = np.asarray(restored, dtype=np.uint8)
    return arrays
