"""The detector half every GAN plugin shares: fit with the shared train driver, restoration scoring, run facts
and the saved state. A plugin's detector sets `recipe` and writes `_translate` and `_save_samples`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import torch

from bench.core.detector import Detector, RunResources, state_on_cpu
from bench.core.device import seed_everything
from bench.core.images import TrainData
from bench.methods._gan.accel import Accel
from bench.methods._gan.networks import count_parameters
from bench.methods._gan.scoring import RestorationScoring
from bench.methods._gan.trainer import GANRecipe, train

if TYPE_CHECKING:
    from bench.core.cost import CostProbe, DataShape


class GANDetector(RestorationScoring, Detector):
    """Base of the GAN detectors: semi-supervised, G (`generator_`) restores images at `size_` px, the score is
    mean |x - x'| / 2 (`RestorationScoring`). Subclasses supply `recipe`, `_translate(x) -> x'` and
    `_save_samples(sets, iteration=None)` (the sample grid in the run folder)."""

    recipe: ClassVar[GANRecipe]
    resources = RunResources(gpus=1.0)  # a whole GPU: training is the GPU's work for hours

    def _accel(self) -> Accel:
        c = self.config
        return Accel.for_device(self.device, amp=c.amp, channels_last=c.channels_last, compile=c.compile,
                                mode=c.accel)

    def _fit(self, data: TrainData, val: Any | None) -> None:
        seed_everything(self.seed)
        accel = self._accel()
        config = self.for_dataset(self.config, None)  # settings a run did not fill in for its data set: defaults
        self.size_ = self.recipe.model_size(config, data.normal)
        generator, critic = self.recipe.build_networks(config, self.size_)
        self.generator_ = generator
        result, sets = train(self.recipe, generator, critic, data, config=config, seed=self.seed,
                             accel=accel, workdir=self.workdir, progress=self.progress,
                             score=self._score_during_fit, translate=self._translate, val=val,
                             on_checkpoint=self._save_samples)
        # Plain NCHW weights: scores after fit are bit-identical to a saved-and-loaded detector's (channels_last
        # weights take other convolution kernels, which round differently).
        self.generator_ = generator.to(memory_format=torch.contiguous_format).eval()
        self.train_info_ = {**result.info(), "accel": accel.info(),
                            "parameters": {"G": count_parameters(generator), "D": count_parameters(critic)}}
        if result.selection["policy"] != "last":  # with `last`, the final checkpoint's grid shows these weights
            self._save_samples(sets)

    def _save_samples(self, sets: Mapping[str, torch.Tensor], iteration: int | None = None) -> None:
        """Write the method's sample grid of a few training images (never the test split) to the run folder."""
        raise NotImplementedError

    @classmethod
    def cost_probe(cls, config: Any, data: DataShape, device: torch.device) -> CostProbe:
        """Timed iterations of the real D and G steps at the preset's size and batch (bench.methods._gan.probe)."""
        from bench.methods._gan.probe import probe_training

        return probe_training(cls.recipe, config, data, device)

    # --- state -----------------------------------------------------------------------------------------
    def run_info(self) -> dict[str, Any]:
        return {"training": getattr(self, "train_info_", None), "image_size": getattr(self, "size_", None)}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": state_on_cpu(self.generator_),
                "size": int(self.size_)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        generator = self.recipe.build_generator(self.config)
        generator.load_state_dict(state["generator"])
        self.generator_ = generator.to(self.device).eval()
        self.size_ = int(state["size"])
