"""One generic adapter from anomalib 2.x image models to the detector contract, and the three named baselines.

Training: anomalib's own `Engine.fit` on the Lightning module (training.py). Scoring: the module's pre-processing
transform, then its torch model in eval mode, whose `pred_score` / `anomaly_map` are anomalib's raw outputs. This is
exactly what anomalib's predict step computes, minus the post-processor (min-max normalisation, thresholds) and
minus GANomaly's test-time running min/max: scores stay raw, per image, independent of batch size and order.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import numpy as np
import torch

from bench.core.detector import Detector, RunResources, state_on_cpu
from bench.core.errors import BenchError
from bench.core.images import ImageSet, TrainData
from bench.data.cache import cache_root
from bench.methods.anomalib_models import catalog
from bench.methods.anomalib_models.config import (
    AnomalibConfig,
    BackboneConfig,
    GanomalyConfig,
    PadimConfig,
    PatchcoreConfig,
    model_fields,
)
from bench.methods.anomalib_models.data import as_anomalib_images


def _placeholders(value: Any) -> Any:
    """`{cache}` -> <BENCH_CACHE>/anomalib, `{empty}` -> an empty folder there (catalog argument defaults)."""
    if not isinstance(value, str) or "{" not in value:
        return value
    root = cache_root() / "anomalib"
    if value == "{empty}":
        empty = root / "empty"
        empty.mkdir(parents=True, exist_ok=True)
        return str(empty)
    return value.replace("{cache}", str(root))


@contextlib.contextmanager
def downloads_explained(model_key: str) -> Iterator[None]:
    """A failed download inside anomalib (data sets, non-timm weights) becomes one message naming what it fetches."""
    import urllib.error

    try:
        yield
    except urllib.error.URLError as exc:
        info = catalog.model_info(model_key)
        what = _placeholders(info.downloads) or "files from the internet"
        raise BenchError(f"{catalog.FAMILY}:{model_key} ({info.class_name}) downloads {what} at first use, and the "
                         f"download failed ({exc.reason}); run it once where there is internet (the files stay cached "
                         f"for later offline runs), or pick another model.") from exc


class AnomalibDetector(Detector):
    """An anomalib image model (`model_key` in models.toml) trained and scored through anomalib."""

    uses_unlabeled = False
    model_key: ClassVar[str]
    config_class: ClassVar[type] = AnomalibConfig

    # -- building -------------------------------------------------------------------------------------------------
    def model_kwargs(self, model_class: type) -> dict[str, Any]:
        """Constructor arguments for the anomalib class: catalog defaults, this config's model fields, backbone,
        `pre_trained`, batch size where the model takes it, and `model_args`."""
        import inspect

        accepted = inspect.signature(model_class.__init__).parameters
        info = catalog.model_info(self.model_key)
        kwargs = {k: _placeholders(v) for k, v in info.args.items()}
        for field in model_fields(type(self.config)):
            value = getattr(self.config, field)
            kwargs[field] = list(value) if isinstance(value, tuple) else value
        if isinstance(self.config, BackboneConfig) and self.config.backbone is not None:
            kwargs["backbone"] = self.config.backbone
        # `pre_trained` keeps anomalib's default: `pretrained=false` is enforced on every timm backbone the model
        # builds (weights.py), which also covers models without such an argument, and records each one.
        if "batch_size" in accepted:
            kwargs["batch_size"] = self.config.batch_size
        extra = getattr(self.config, "model_args", "")
        if extra:
            try:
                parsed = json.loads(extra)
            except json.JSONDecodeError as exc:
                raise BenchError(f"model_args must be a JSON object, e.g. '{{\"flow_steps\": 4}}': {exc}") from None
            if not isinstance(parsed, dict):
                raise BenchError("model_args must be a JSON object, e.g. '{\"flow_steps\": 4}'")
            kwargs.update({k: _placeholders(v) for k, v in parsed.items()})
        return kwargs

    def _build(self, image_size: tuple[int, int], *, pretrained: bool, records: list[dict[str, Any]]) -> Any:
        from bench.methods.anomalib_models.training import anomalib_class, build_module, quiet
        from bench.methods.anomalib_models.weights import timm_weights, torchvision_weights

        model_class = anomalib_class(catalog.model_info(self.model_key).class_name)
        weights_file = getattr(self.config, "backbone_weights", None) if pretrained else None
        with timm_weights(self.name, pretrained, weights_file, records), \
                torchvision_weights(self.name, pretrained, records), quiet(), downloads_explained(self.model_key):
            return build_module(model_class, self.model_kwargs(model_class), image_size)

    def _input_size(self, images: ImageSet) -> tuple[int, int]:
        info = catalog.model_info(self.model_key)
        side = self.config.image_size or info.image_size
        return (side, side) if side else images.size

    def epochs(self) -> int:
        """Epochs asked of the Engine: the config's, else anomalib's example config, else 100 (a model's own
        trainer_arguments, such as PaDiM's single pass, still take precedence inside the Engine)."""
        return self.config.epochs or catalog.model_info(self.model_key).epochs or catalog.DEFAULT_EPOCHS

    @classmethod
    def check_config(cls, config: Any) -> None:
        """`model_args` keywords the anomalib class does not take are an error now, not after decoding (imports
        anomalib, a few seconds, only when model_args is set)."""
        super().check_config(config)
        if getattr(config, "model_args", ""):
            from bench.methods.anomalib_models.training import anomalib_class, check_arguments

            model_class = anomalib_class(catalog.model_info(cls.model_key).class_name)
            check_arguments(model_class, cls(config, device="cpu").model_kwargs(model_class))

    # -- the contract ---------------------------------------------------------------------------------------------
    def _fit(self, data: TrainData, val: Any | None) -> None:
        from bench.methods.anomalib_models.training import fit_module, seeded

        size = self._input_size(data.normal)
        records: list[dict[str, Any]] = []
        pretrained = getattr(self.config, "pretrained", True)
        with seeded(self.seed):
            module = self._build(size, pretrained=pretrained, records=records)
            with downloads_explained(self.model_key):
                fit_module(module, data.normal, epochs=self.epochs(), batch_size=self.config.batch_size,
                           seed=self.seed, device=self.device, workdir=self.workdir, progress=self.progress,
                           description=f"{self.name} fit",
                           val_from_train=catalog.model_info(self.model_key).val_from_train)
        self.module_ = module.to(self.device).eval()
        self.input_size_ = size
        self.weights_ = records
        self.trainer_arguments_ = {k: v for k, v in module.trainer_arguments.items()
                                   if isinstance(v, int | float | str | bool)}

    def _outputs(self, images: ImageSet) -> Iterator[Any]:
        """anomalib's InferenceBatch for each batch of `images` (pre-processing transform, then the torch model)."""
        module = self.module_.to(self.device).eval()
        transform = module.pre_processor.transform if module.pre_processor is not None else None
        step = max(1, self.config.score_batch_size)
        for start in range(0, len(images), step):
            batch = as_anomalib_images(images.images[start : start + step]).to(self.device)
            if transform is not None:
                batch = transform(batch)
            yield module.model(batch)

    def _score(self, images: ImageSet) -> np.ndarray:
        scores = [out.pred_score.detach().reshape(-1).double().cpu() for out in self._outputs(images)]
        return torch.cat(scores).numpy()

    def _anomaly_maps(self, images: ImageSet) -> np.ndarray | None:
        maps = []
        for out in self._outputs(images):
            if getattr(out, "anomaly_map", None) is None:
                return None
            maps.append(_map_at(out.anomaly_map, images.size).cpu())
        return torch.cat(maps).numpy()

    def _scores_and_maps(self, images: ImageSet) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Each batch's `pred_score` and `anomaly_map` (resized to the input's) from one forward pass."""
        for out in self._outputs(images):
            amap = getattr(out, "anomaly_map", None)
            yield out.pred_score.detach().reshape(-1).double(), None if amap is None else _map_at(amap, images.size)

    def run_info(self) -> dict[str, Any]:
        info = catalog.model_info(self.model_key)
        return {"anomalib_model": info.class_name, "anomalib": catalog.anomalib_origin(),
                "training_path": "anomalib Engine.fit (Lightning); scores from the torch model in eval mode, raw",
                "input_size": list(self.input_size_),
                "epochs": self.trainer_arguments_.get("max_epochs", self.epochs()),
                "trainer_arguments": dict(self.trainer_arguments_), "pretrained_weights": list(self.weights_)}

    @classmethod
    def cost_probe(cls, config: Any, data: Any, device: torch.device) -> Any:
        """The feature pass (memory-bank models) or one real training step per batch, timed on random images at
        the model's input size with a random backbone (probe.py)."""
        from bench.methods.anomalib_models.probe import probe_anomalib

        return probe_anomalib(cls, config, data, device)

    # -- state ----------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {"module": state_on_cpu(self.module_),
                "input_size": list(self.input_size_), "weights": [dict(r) for r in self.weights_],
                "trainer_arguments": dict(self.trainer_arguments_)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        size = tuple(int(s) for s in state["input_size"])
        module = self._build(size, pretrained=False, records=[])  # weights come from the state, not the hub
        tensors = state["module"]
        _fit_buffer_shapes(module, tensors)
        module.load_state_dict(tensors)
        self.module_ = module.to(self.device).eval()
        self.input_size_ = size
        self.weights_ = [dict(r) for r in state["weights"]]
        self.trainer_arguments_ = dict(state["trainer_arguments"])


def _map_at(anomaly_map: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """An anomalib anomaly map ((B, H, W) or (B, 1, H, W)) as float (B, H, W) at `size`, bilinear."""
    amap = anomaly_map.detach().float()
    amap = amap.reshape(amap.shape[0], 1, *amap.shape[-2:])
    if tuple(amap.shape[-2:]) != size:
        amap = torch.nn.functional.interpolate(amap, size=size, mode="bilinear", align_corners=False)
    return amap[:, 0]


def _fit_buffer_shapes(module: torch.nn.Module, tensors: Mapping[str, torch.Tensor]) -> None:
    """Buffers whose size is learned (PatchCore's memory bank, PaDiM's Gaussian) start empty in a fresh module:
    give them the saved shapes so `load_state_dict` can fill them."""
    for key, value in tensors.items():
        owner_path, _, name = key.rpartition(".")
        owner = module.get_submodule(owner_path) if owner_path else module
        current = owner._buffers.get(name) if name in owner._buffers else None
        if current is not None and current.shape != value.shape:
            owner._buffers[name] = torch.empty_like(value)


class PadimDetector(AnomalibDetector):
    """PaDiM through anomalib (`padim`)."""

    name = "padim"
    display_name = "PaDiM"
    summary = "PaDiM (anomalib): a Gaussian per patch position over pretrained CNN features"
    model_key = "padim"
    resources = RunResources(gpus=0.25)  # one feature pass and a Gaussian fit: four runs share a GPU
    config_class = PadimConfig
    presets = {
        "paper": PadimConfig(),
        "fast": PadimConfig(),  # PaDiM is a single pass already
        "smoke": PadimConfig(pretrained=False),
        "tiny": PadimConfig(pretrained=False, image_size=32),
    }


class PatchcoreDetector(AnomalibDetector):
    """PatchCore through anomalib (`patchcore`)."""

    name = "patchcore"
    display_name = "PatchCore"
    summary = "PatchCore (anomalib): coreset memory bank of patch features, kNN distance"
    model_key = "patchcore"
    resources = RunResources(gpus=0.25)  # one feature pass and a coreset: four runs share a GPU
    config_class = PatchcoreConfig
    presets = {
        "paper": PatchcoreConfig(),
        "fast": PatchcoreConfig(coreset_sampling_ratio=0.01),
        "smoke": PatchcoreConfig(pretrained=False, backbone="resnet18"),  # anomalib's 10% coreset
        "tiny": PatchcoreConfig(pretrained=False, backbone="resnet18", image_size=32),
    }


class GanomalyDetector(AnomalibDetector):
    """GANomaly through anomalib (`ganomaly`); scores are the raw latent distances (no running min/max)."""

    name = "ganomaly"
    display_name = "GANomaly"
    summary = "GANomaly (anomalib): encoder-decoder-encoder GAN, latent distance"
    model_key = "ganomaly"
    resources = RunResources(gpus=0.5)  # small networks trained for epochs: two runs share a GPU
    config_class = GanomalyConfig
    presets = {
        "paper": GanomalyConfig(epochs=100),
        "fast": GanomalyConfig(epochs=15),
        # 32 px: four times the epochs of 64 px in the same time; GANomaly learns small opacities slowly and needs
        # them (see its learning floor in tests/conformance/learning_floors.toml).
        "smoke": GanomalyConfig(image_size=32, epochs=45, n_features=16, latent_vec_size=32),
        "tiny": GanomalyConfig(image_size=32, epochs=1, n_features=16, latent_vec_size=32),
    }


SHORT_NAMES: dict[str, type[AnomalibDetector]] = {"padim": PadimDetector, "patchcore": PatchcoreDetector,
                                                  "ganomaly": GanomalyDetector}
