"""The SAGAN detector: fit trains G and D with the shared GAN driver; the score is mean |x - x'| / 2."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from bench.methods._gan import save_sample_grid, to_unit_range
from bench.methods._gan.detector import GANDetector
from bench.methods.sagan.presets import PRESETS, SAGANConfig
from bench.methods.sagan.pseudo_anomaly import make_pseudo_anomalies, other_indices
from bench.methods.sagan.trainer import NORMAL, RECIPE, UNLABELED

N_SAMPLE_ROWS = 4  # per training set in samples.png


class SAGANDetector(GANDetector):
    """SAGAN (Zhang et al., MICCAI 2024): semi-supervised; G restores images towards normal anatomy, working on
    position-coded patches (ACM) with attention-gated decoder stages (ARRM), trained with FPI pseudo-anomalies;
    higher |x - x'| = more anomalous. The Bernoulli gate is off at test unless `gate_at_test=true`."""

    name = "sagan"
    display_name = "SAGAN"
    summary = "SAGAN (MICCAI 2024): position-coded patches, attention-gated restoration, pseudo-anomalies"
    uses_unlabeled = True
    recipe = RECIPE
    config_class = SAGANConfig
    presets = PRESETS

    # --- inference -------------------------------------------------------------------------------------
    def _translate(self, x: torch.Tensor) -> torch.Tensor:
        """x' for images in [-1, 1] at the model's size, in fp32."""
        return self.generator_(x)

    # --- sample grid ---------------------------------------------------------------------------------------
    def _save_samples(self, sets: Mapping[str, torch.Tensor], iteration: int | None = None) -> None:
        """samples.png in the run folder: input, restored x', |x - x'|, the three attention maps, a
        pseudo-anomaly made from the input and its restoration, for a few unlabeled and normal training images.
        Training images only: never the test split."""
        if self.workdir is None or not sets:
            return
        rows = torch.cat([to_unit_range(sets[k][:N_SAMPLE_ROWS], self.config.channels)
                          for k in (UNLABELED, NORMAL)])
        labels = [f"unlabeled {i}" for i in range(N_SAMPLE_ROWS)] + [f"normal {i}" for i in range(N_SAMPLE_ROWS)]
        with torch.no_grad():
            out = self.generator_.restore(rows)
            pseudo = self._pseudo_anomalies(rows, sets[NORMAL])
            restored_pseudo = self.generator_(pseudo)
        panels: dict[str, torch.Tensor] = {"input x": rows, "x'": out.restored,
                                           "|x - x'|": (rows - out.restored).abs()}
        for stage, psi in enumerate(out.attention, start=1):
            panels[f"attention {stage}"] = F.interpolate(psi, size=rows.shape[-2:], mode="nearest")
        panels.update({"pseudo-anomaly x_p": pseudo, "x'_p": restored_pseudo})
        ranges = {name: (0.0, 1.0) if name.startswith(("|", "attention")) else (-1.0, 1.0) for name in panels}
        colormaps = {name: "magma" for name in panels if name.startswith(("|", "attention"))}
        title = "SAGAN" + ("" if iteration is None else f", iteration {iteration}")
        save_sample_grid(self.workdir / "samples.png", panels, ranges, colormaps=colormaps,
                         row_labels=labels[:len(rows)], title=title)

    def _pseudo_anomalies(self, rows: torch.Tensor, normal_set: torch.Tensor) -> torch.Tensor:
        """Pseudo-anomalies of the grid's rows (unlabeled rows first, then `normal_set`'s first images), with
        sources from the normal training set as in training, drawn by a generator seeded with the run's seed."""
        generator = torch.Generator(rows.device).manual_seed(self.seed)
        n_unlabeled = len(rows) - min(N_SAMPLE_ROWS, len(normal_set))
        own = torch.cat([torch.full((n_unlabeled,), -1), torch.arange(len(rows) - n_unlabeled)]).to(rows.device)
        sources = to_unit_range(normal_set.index_select(0, other_indices(own, len(normal_set), generator)),
                                self.config.channels)
        return make_pseudo_anomalies(rows, generator, sources=sources).images

    # --- state -----------------------------------------------------------------------------------------
    def run_info(self) -> dict[str, Any]:
        return {**super().run_info(),
                "checkpoint_selection_note": "never the test split (the authors' code selected on test AUC)"}
