"""Checkpoint selection policies, evaluated by the loop at every checkpoint; none ever sees the test split.

- `last`: the final weights (no evaluation).
- `val-auc`: ROC AUC of the method's scores on a labelled validation split (where the data set has one).
- `val-auc-or-last`: `val-auc` when the fit gets a labelled validation split, else `last` (the run records which
  policy ran); for presets that must run on every data set.
- `fid`: label-free FID between the translated held-out mixed images and held-out healthy images (lower is
  better), as HealthyGAN's paper selects checkpoints.
- `aucp`: label-free pseudo-AUC (Brainomaly, WACV 2024): the AUC of the method's scores with every held-out
  unlabeled image as positive and every held-out known normal as negative (higher is better). Both are held out
  from training as for `fid` (`fid_holdout` of each, at most a fifth): the known normals are trained on (identity
  losses), so their training images would score lower than unseen normals and favour memorising checkpoints.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from bench.core.errors import BenchError
from bench.core.images import ImageSet
from bench.methods._gan.data import hold_out, images_to_device, to_unit_range
from bench.methods._gan.fid import (
    FeatureFn,
    InceptionFeatures,
    extract,
    fid_from_features,
    frechet_distance,
    statistics,
)

POLICIES = ("last", "val-auc", "val-auc-or-last", "fid", "aucp")


class Selector(Protocol):
    """What the loop calls at each checkpoint: `evaluate()` on the current weights (in eval mode)."""

    name: str
    higher_is_better: bool

    def evaluate(self) -> float: ...


def has_both_labels(images: ImageSet | None) -> bool:
    """True when `images` holds normal (0) and abnormal (1) labels, as an AUC needs."""
    return images is not None and len(set(np.asarray(images.labels).tolist()) & {0, 1}) == 2


class ValAUCSelector:
    """AUC of `score(val)` against the validation labels."""

    name = "val-auc"
    higher_is_better = True

    def __init__(self, score: Callable[[ImageSet], np.ndarray], val: ImageSet | None) -> None:
        if not has_both_labels(val):
            raise BenchError("selection=val-auc needs a labelled validation split with normal and abnormal "
                             "images; this data set has none. Use --set selection=last or selection=fid.")
        self.score, self.val = score, val

    def evaluate(self) -> float:
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(self.val.labels, self.score(self.val)))


class AUCpSelector:
    """AUC of `score` with the `unlabeled` images as positives and the `normal` images as negatives.

    No label of any image is read: the targets come from which set an image is in (the unlabeled set carries -1)."""

    name = "aucp"
    higher_is_better = True

    def __init__(self, score: Callable[[ImageSet], np.ndarray], unlabeled: ImageSet, normal: ImageSet) -> None:
        if len(unlabeled) < 1 or len(normal) < 1:
            raise BenchError("selection=aucp needs at least one held-out unlabeled and one held-out normal image")
        self.score, self.unlabeled, self.normal = score, unlabeled, normal
        self.targets = np.concatenate([np.ones(len(unlabeled)), np.zeros(len(normal))])

    def evaluate(self) -> float:
        from sklearn.metrics import roc_auc_score

        return float(roc_auc_score(self.targets, np.concatenate([self.score(self.unlabeled), self.score(self.normal)])))


class FIDSelector:
    """FID between `translate(mixed)` and `healthy` (both held out from training), in a feature space.

    The healthy statistics are computed once; each evaluation translates the mixed images and extracts
    their features.
    """

    name = "fid"
    higher_is_better = False

    def __init__(self, translate: Callable[[torch.Tensor], torch.Tensor], mixed: torch.Tensor,
                 healthy: torch.Tensor, features: FeatureFn, batch_size: int = 50) -> None:
        if len(mixed) < 2 or len(healthy) < 2:
            raise BenchError("selection=fid needs at least two held-out mixed and two held-out healthy "
                             "images")
        self.translate, self.mixed, self.features, self.batch_size = translate, mixed, features, batch_size
        self._healthy_stats = statistics(extract(features, healthy, batch_size))

    def evaluate(self) -> float:
        with torch.no_grad():
            translated = torch.cat([self.translate(self.mixed[i:i + self.batch_size])
                                    for i in range(0, len(self.mixed), self.batch_size)])
        fake = extract(self.features, translated, self.batch_size)
        return frechet_distance(*statistics(fake), *self._healthy_stats)


def make_selector(policy: str, *, score: Callable[[ImageSet], np.ndarray] | None = None,
                  val: ImageSet | None = None,
                  translate: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  fid_mixed: torch.Tensor | None = None, fid_healthy: torch.Tensor | None = None,
                  features: FeatureFn | None = None, aucp_unlabeled: ImageSet | None = None,
                  aucp_normal: ImageSet | None = None) -> Selector | None:
    """The selector for `policy` (None for `last`); each policy checks that it got what it needs."""
    if policy == "last":
        return None
    if policy == "val-auc-or-last":
        return make_selector("val-auc" if has_both_labels(val) else "last", score=score, val=val)
    if policy == "val-auc":
        if score is None:
            raise ValueError("selection=val-auc needs a score function")
        return ValAUCSelector(score, val)
    if policy == "fid":
        if translate is None or fid_mixed is None or fid_healthy is None or features is None:
            raise ValueError("selection=fid needs translate, fid_mixed, fid_healthy and features")
        return FIDSelector(translate, fid_mixed, fid_healthy, features)
    if policy == "aucp":
        if score is None or aucp_unlabeled is None or aucp_normal is None:
            raise ValueError("selection=aucp needs score, aucp_unlabeled and aucp_normal")
        return AUCpSelector(score, aucp_unlabeled, aucp_normal)
    raise BenchError(f"unknown selection policy {policy!r}; use one of {', '.join(POLICIES)}")


@dataclasses.dataclass(frozen=True)
class SelectionSetup:
    """A GAN trainer's checkpoint selector and the two training sets left after any FID hold-out."""

    selector: Selector | None
    unlabeled: ImageSet
    normal: ImageSet


def setup_selection(policy: str, unlabeled: ImageSet, normal: ImageSet, *, device: torch.device, size: int,
                    channels: int, holdout: int, seed: int, score: Callable[[ImageSet], np.ndarray],
                    translate: Callable[[torch.Tensor], torch.Tensor], val: ImageSet | None = None,
                    fid_features: FeatureFn | None = None, fid_weights: Path | None = None) -> SelectionSetup:
    """The selector for `policy`. With `fid` and `aucp`, up to `holdout` images of each set (at most a fifth) are
    held out as the label-free reference and are not trained on; `fid_features` defaults to pytorch-fid's Inception
    (weights from `fid_weights` or torch's hub cache)."""
    if policy not in ("fid", "aucp"):
        selector = make_selector(policy, score=score, val=val, translate=translate)
        return SelectionSetup(selector, unlabeled, normal)
    unlabeled, held_unlabeled = hold_out(unlabeled, holdout, seed + 101)
    normal, held_normal = hold_out(normal, holdout, seed + 202)
    if policy == "aucp":
        selector = make_selector(policy, score=score, aucp_unlabeled=held_unlabeled, aucp_normal=held_normal)
        return SelectionSetup(selector, unlabeled, normal)
    features = fid_features or InceptionFeatures(device, fid_weights)
    fid_mixed = to_unit_range(images_to_device(held_unlabeled, device, size=size), channels)
    fid_healthy = to_unit_range(images_to_device(held_normal, device, size=size), channels)
    selector = make_selector(policy, translate=translate, fid_mixed=fid_mixed, fid_healthy=fid_healthy,
                             features=features)
    return SelectionSetup(selector, unlabeled, normal)


@dataclasses.dataclass
class SelectionTracker:
    """History of (iteration, value) and the best so far under one policy."""

    policy: str
    higher_is_better: bool = True
    history: list[tuple[int, float]] = dataclasses.field(default_factory=list)
    best_iteration: int | None = None
    best_value: float | None = None

    def record(self, iteration: int, value: float) -> bool:
        """Add one evaluation; True when it is the new best (ties keep the earlier checkpoint)."""
        self.history.append((iteration, float(value)))
        if not np.isfinite(value):
            return False
        better = (self.best_value is None or (value > self.best_value if self.higher_is_better
                                              else value < self.best_value))
        if better:
            self.best_iteration, self.best_value = iteration, float(value)
        return better

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy, "higher_is_better": self.higher_is_better,
                "history": [[i, v] for i, v in self.history], "best_iteration": self.best_iteration,
                "best_value": self.best_value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = [(int(i), float(v)) for i, v in state["history"]]
        self.best_iteration = state["best_iteration"]
        self.best_value = state["best_value"]


__all__ = ["POLICIES", "AUCpSelector", "FIDSelector", "SelectionSetup", "SelectionTracker", "Selector",
           "ValAUCSelector", "fid_from_features", "make_selector", "setup_selection"]
