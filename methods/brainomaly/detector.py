"""The Brainomaly detector: fit trains G and D with the shared GAN driver; the score is mean |x - tanh(x + G(x))| / 2,
the map |x - tanh(x + G(x))|."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from bench.methods._gan import save_sample_grid, to_unit_range
from bench.methods._gan.detector import GANDetector
from bench.methods.brainomaly.networks import translate
from bench.methods.brainomaly.presets import PRESETS, BrainomalyConfig
from bench.methods.brainomaly.trainer import HEALTHY, MIXED, RECIPE

N_SAMPLE_ROWS = 4  # per training set in samples.png


class BrainomalyDetector(GANDetector):
    """Brainomaly (Rahman Siddiquee et al., WACV 2024): semi-supervised; learns an additive map that turns mixed
    images into healthy-looking ones, x' = tanh(x + G(x)); higher |x - x'| = more anomalous."""

    name = "brainomaly"
    display_name = "Brainomaly"
    summary = "Brainomaly (WACV 2024): mixed -> healthy translation by an additive map, score |x - tanh(x + G(x))|"
    uses_unlabeled = True
    recipe = RECIPE
    config_class = BrainomalyConfig
    presets = PRESETS

    # --- inference -------------------------------------------------------------------------------------
    def _translate(self, x: torch.Tensor) -> torch.Tensor:
        """x' = tanh(x + G(x)) for images in [-1, 1] at the model's size: what the score, the maps and the
        qualitative figures use."""
        return translate(x, self.generator_(x))

    # --- sample grid ---------------------------------------------------------------------------------------
    def _save_samples(self, sets: Mapping[str, torch.Tensor], iteration: int | None = None) -> None:
        """samples.png in the run folder: input, additive map, x', |x - x'| for a few training images of the mixed
        (A) and healthy (B) sets, as the authors' sample images. Training images only: never the test split."""
        if self.workdir is None or not sets:
            return
        rows = torch.cat([to_unit_range(sets[k][:N_SAMPLE_ROWS], self.config.channels) for k in (MIXED, HEALTHY)])
        labels = [f"mixed {i}" for i in range(N_SAMPLE_ROWS)] + [f"healthy {i}" for i in range(N_SAMPLE_ROWS)]
        with torch.no_grad():
            additive = self.generator_(rows).float()
            restored = translate(rows, additive)
        panels = {"input": rows, "map G(x)": additive, "x'": restored, "|x - x'|": (rows - restored).abs()}
        ranges = {"input": (-1, 1), "x'": (-1, 1), "|x - x'|": (0, 1)}  # the map: its own min to max, as the authors
        title = "Brainomaly" + ("" if iteration is None else f", iteration {iteration}")
        save_sample_grid(self.workdir / "samples.png", panels, ranges, colormaps={"|x - x'|": "magma"},
                         row_labels=labels[:len(rows)], title=title)

    def run_info(self) -> dict[str, Any]:
        return {**super().run_info(),
                "checkpoint_selection_note": "never the test split (aucp: held-out unlabeled images as "
                                             "positives, held-out known normals as negatives)"}
