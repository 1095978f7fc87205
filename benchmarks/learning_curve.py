"""Learning curves for `make gpu-check`: the validation AUC of a GAN's weights at its training checkpoints, taken
during a real run (the runner's `fit`) by an observer of the shared GAN loop (`observe_checkpoints`), so the
curve costs no second training. The run's own checkpoint selection never sees these numbers.

At each checkpoint the observer lends the loop's current networks to a twin detector of the same method and config
(never fitted itself) and scores the labelled validation split with the detector's own `score`; the AUC of those
scores is one point. f-AnoGAN scores through its encoder, so its curve covers stage 2 (the encoder) only; ALAD
scores with its EMA networks, as its detector does.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

CURVE_POINTS = 5  # checkpoints per run: the interval is set to iterations // CURVE_POINTS
# The twin detector's fitted attributes and the loop module each one takes (its `_keep` / `_fit` assignments).
SCORING_MODULES: dict[str, dict[str, str]] = {
    "healthygan": {"generator_": "G"}, "sagan": {"generator_": "G"}, "brainomaly": {"generator_": "G"},
    "fanogan": {"generator_": "G", "critic_": "D", "encoder_": "E"},  # stage 2's loop (stage 1 has no E)
    "alocc": {"generator_": "R", "critic_": "D"},
    "alad": {"encoder_": "E_ema", "generator_": "G_ema", "critic_": "Dxx_ema"},
}
INTERVAL_KEY = {"alad": "evaluate_every"}  # ALAD's checkpoints are its early-stopping evaluations
CURVE_ITERATIONS_KEY = {"fanogan": "encoder_iterations"}  # the stage the curve covers


def interval_overrides(name: str, config: Any, points: int = CURVE_POINTS) -> dict[str, str]:
    """The checkpoint interval that gives about `points` curve points for the run's (possibly capped) length
    (`config`: the run's, its overrides applied)."""
    iterations = int(getattr(config, CURVE_ITERATIONS_KEY.get(name, "iterations")))
    return {INTERVAL_KEY.get(name, "checkpoint_every"): str(max(1, iterations // points))}


class ValidationCurve:
    """A `GANLoop` observer: one point {phase, iteration, val_auc, mean_score, score_s} per checkpoint of the run."""

    def __init__(self, name: str, config: Any, val: Any, device: torch.device) -> None:
        from bench.core import registry

        cls = registry.get_method(name)
        self.twin = cls(config, seed=0, device=device)
        self.twin.size_ = cls.recipe.model_size(config, val)
        self.twin.fitted_ = True  # it scores the loop's networks, lent at each checkpoint
        self.val, self.modules = val, SCORING_MODULES[name]
        self.points: list[dict[str, Any]] = []

    def __call__(self, loop: Any) -> None:
        from sklearn.metrics import roc_auc_score

        found = loop.steps.modules
        if not all(key in found for key in self.modules.values()):
            return
        for attribute, key in self.modules.items():
            setattr(self.twin, attribute, found[key])
        start = time.perf_counter()
        scores = self.twin.score(self.val)
        auc = float(roc_auc_score(self.val.labels, scores)) if np.all(np.isfinite(scores)) else None
        self.points.append({"phase": loop.settings.description, "iteration": loop.iteration, "val_auc": auc,
                            "mean_score": float(np.mean(scores)), "score_s": time.perf_counter() - start})


def markdown(sections: dict[str, dict[str, Any]]) -> list[str]:
    """One row per run with a curve: validation AUC by iteration, and the run's test AUC."""
    lines = ["", "| learning curve (fast, synthetic) | phase | validation AUC at iteration | test AUC |",
             "|---|---|---|---:|"]
    for section in sections.values():
        for name, row in section.items():
            curve = row.get("curve")
            if not curve:
                continue
            points = ", ".join(f"{p['iteration']}: " + ("-" if p["val_auc"] is None else f"{p['val_auc']:.3f}")
                               for p in curve)
            lines.append(f"| {name} | {curve[-1]['phase']} | {points} | {row['auc']:.3f} |")
    return lines if len(lines) > 3 else []
