"""The detector contract every method plugin implements (`Detector`), and what a run of it needs from a cluster
(`RunResources`). The images it consumes are bench.core.images'.

Convention (pinned by the conformance suite): `score` returns one finite float per image, higher = more anomalous.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import torch

from bench.core.config import apply_overrides, config_from_dict, config_to_dict
from bench.core.cost import SAMPLE_IMAGES, CostProbe, DataShape, peak_memory, random_images, state_size, timed
from bench.core.device import resolve_device
from bench.core.errors import BenchError, NotFittedError
from bench.core.files import atomic_torch_save
from bench.core.images import ImageSet, TrainData
from bench.core.progress import Progress


@dataclasses.dataclass(frozen=True)
class RunResources:
    """What one run of a method needs from a cluster executor (Ray): `gpus` may be a fraction (0.25: four such
    runs share one GPU), used only where the cluster has GPUs and the device is not cpu; `memory_gb` None: no
    reservation. `--set ray.num_gpus=...` (num_cpus, memory) overrides it for every run."""

    gpus: float = 1.0
    cpus: float = 1.0
    memory_gb: float | None = None

    def __post_init__(self) -> None:
        if self.gpus < 0 or (self.gpus > 1 and self.gpus != int(self.gpus)):
            raise ValueError(f"RunResources.gpus must be a fraction in [0, 1] or a whole number, got {self.gpus}")
        if self.cpus <= 0 or (self.memory_gb is not None and self.memory_gb <= 0):
            raise ValueError(f"RunResources needs cpus > 0 and memory_gb > 0 or None, got {self}")


class Detector(ABC):
    """Base class of every method. Subclasses set the class variables and implement `_fit`, `_score`,
    `state_dict` and `load_state_dict`; the public methods here enforce the contract around them."""

    name: ClassVar[str]  # registry key, e.g. "healthygan"
    display_name: ClassVar[str] = ""  # as tables print it, e.g. "HealthyGAN"; not inherited (unset: the name)
    summary: ClassVar[str] = ""  # one line for `bench list`
    uses_unlabeled: ClassVar[bool] = False
    in_all: ClassVar[bool] = True  # part of `--methods all`
    config_class: ClassVar[type]
    presets: ClassVar[Mapping[str, Any]]  # paper, fast, smoke, tiny (see bench.testing)
    resources: ClassVar[RunResources] = RunResources()  # per run on a cluster: one GPU unless a method says less

    def __init__(
        self,
        config: Any | None = None,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
        workdir: Path | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.config = self.presets["paper"] if config is None else config
        if not isinstance(self.config, self.config_class):
            raise TypeError(f"{type(self).__name__} expects a {self.config_class.__name__}, got {type(config)}")
        self.seed = seed
        self.device = resolve_device(device)
        self.workdir = None if workdir is None else Path(workdir)
        self.progress = progress or Progress()
        self.fitted_ = False

    @classmethod
    def preset(cls, name: str, overrides: Mapping[str, Any] | None = None, *, dataset: str | None = None) -> Any:
        """The config of preset `name` with `overrides` applied (unknown keys are an error); with `dataset`, the
        settings the preset leaves to the data set are filled in for it (`for_dataset`), as a run records them."""
        if name not in cls.presets:
            raise BenchError(f"{cls.name} has no preset {name!r}; presets: {', '.join(cls.presets)}")
        config = apply_overrides(cls.presets[name], overrides or {}, owner=f"method {cls.name}")
        return config if dataset is None else cls.for_dataset(config, dataset)

    @classmethod
    def for_dataset(cls, config: Any, dataset: str | None) -> Any:
        """`config` with the settings it leaves to the data set (e.g. a batch size the paper chose per data set)
        filled in for the registry name `dataset` (None: unknown, the method's default). Default: unchanged."""
        return config

    @classmethod
    def check_config(cls, config: Any) -> None:
        """Plan-time checks that need more than one field's own range (e.g. a library's constructor signature):
        raise BenchError with what to change. Called by `bench.plan` before anything is decoded or trained.
        Default: the speed settings' convention (`accel` with `amp`, `channels_last`, `compile`): `accel=on`
        forces the features the config asks for onto any device, so with all three false it would do nothing."""
        features = ("amp", "channels_last", "compile")
        if getattr(config, "accel", None) == "on" and all(getattr(config, f, None) is False for f in features):
            raise BenchError(f"accel=on turns on the speed features {cls.name}'s settings ask for, and these ask for "
                             "none (amp, channels_last and compile are all false): add --set amp=true (or "
                             "channels_last=true, compile=true), or leave accel at auto")

    @classmethod
    def from_preset(cls, preset: str = "paper", overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Self:
        """Build a detector from a named preset plus overrides."""
        return cls(cls.preset(preset, overrides), **kwargs)

    def fit(self, data: TrainData, *, val: Any | None = None) -> Self:
        """Train on `data` (unlabeled images only for semi-supervised methods); returns self."""
        if not isinstance(data, TrainData):
            raise TypeError("fit expects a TrainData")
        if not self.uses_unlabeled and data.unlabeled is not None:
            data = TrainData(data.normal, None)
        self._fit(data, val)
        self.fitted_ = True
        return self

    def score(self, images: ImageSet) -> np.ndarray:
        """One finite float per image, higher = more anomalous."""
        self._check_fitted("score")
        with torch.inference_mode():
            return self._checked_scores(self._score(images), images)

    def score_with_maps(self, images: ImageSet, keep: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """`score(images)` and `anomaly_maps(images.subset(keep))` together: from one pass over the images where
        the method computes both from the same forward pass (`_scores_and_maps`), else a score pass and a maps
        pass over the `keep` rows. The run's localisation step uses it, so its maps cost no second pass."""
        self._check_fitted("score_with_maps")
        keep = np.asarray(keep, dtype=np.intp).reshape(-1)
        with torch.inference_mode():
            batches = self._scores_and_maps(images) if _one_pass_is_current(type(self)) else None
            if batches is None:
                scores, maps = self._score(images), self._anomaly_maps(images.subset(keep))
            else:
                scores, maps = gather_scores_and_maps(batches, len(images), keep, images.size)
            return self._checked_scores(scores, images), maps

    def _checked_scores(self, raw: Any, images: ImageSet) -> np.ndarray:
        scores = np.asarray(raw, dtype=np.float64).reshape(-1)
        if len(scores) != len(images):
            raise RuntimeError(f"{self.name} returned {len(scores)} scores for {len(images)} images")
        if not np.isfinite(scores).all():
            raise RuntimeError(f"{self.name} returned {int((~np.isfinite(scores)).sum())} non-finite scores")
        return scores

    def anomaly_maps(self, images: ImageSet) -> np.ndarray | None:
        """(N, H, W) float maps where the method has them, else None."""
        self._check_fitted("anomaly_maps")
        with torch.inference_mode():
            return self._anomaly_maps(images)

    def restored_images(self, images: ImageSet) -> np.ndarray | None:
        """(N, C, H, W) uint8 images the method restored ("healthy" versions) where it has them, else None;
        shown beside the input and the anomaly map in qualitative figures."""
        self._check_fitted("restored_images")
        with torch.inference_mode():
            return self._restored_images(images)

    def run_info(self) -> dict[str, Any]:
        """Facts for run.json beyond the config (e.g. which pretrained weights were used)."""
        return {}

    @classmethod
    def cost_probe(cls, config: Any, data: DataShape, device: torch.device) -> CostProbe:
        """What one run with `config` will cost on `device` (`bench run --dry-run`), measured on random images
        shaped as `data` (nothing decoded, nothing written). Default: a fit on a small random sample, scaled
        linearly to the training set; methods whose cost is a number of steps override it with a few timed steps
        of their real networks (see bench.core.cost)."""
        return probe_fit_on_sample(cls, config, data, device)

    def save(self, path: str | Path) -> None:
        """Write config, seed and learned state to `path` (atomically)."""
        self._check_fitted("save")
        payload = {"method": self.name, "seed": self.seed, "config": config_to_dict(self.config),
                   "state": self.state_dict()}
        atomic_torch_save(payload, Path(path))

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "auto") -> Self:
        """Rebuild a fitted detector written by `save` (torch.load with weights_only=True)."""
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        if payload.get("method") != cls.name:
            raise BenchError(f"{path} holds a {payload.get('method')!r} detector, not {cls.name!r}")
        detector = cls(config_from_dict(cls.config_class, payload["config"]), seed=payload["seed"], device=device)
        detector.load_state_dict(payload["state"])
        detector.fitted_ = True
        return detector

    def _check_fitted(self, what: str) -> None:
        if not self.fitted_:
            raise NotFittedError(f"{self.name}: call fit() before {what}()")

    @abstractmethod
    def _fit(self, data: TrainData, val: Any | None) -> None:
        """Learn from `data`; `val` (an ImageSet with labels) may be used for checkpoint selection only."""

    @abstractmethod
    def _score(self, images: ImageSet) -> np.ndarray:
        """Scores for `images`; must not change the detector's state."""

    def _anomaly_maps(self, images: ImageSet) -> np.ndarray | None:
        return None

    def _scores_and_maps(self, images: ImageSet) -> Iterator[tuple[Any, Any]] | None:
        """(scores, maps at the images' size, or None) per consecutive batch of `images`, both from one forward
        pass, equal to what `_score` and `_anomaly_maps` give; None (the default): the method has no such pass."""
        return None

    def _restored_images(self, images: ImageSet) -> np.ndarray | None:
        return None

    @abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Learned state as tensors and plain Python values (loadable with weights_only=True)."""

    @abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the state written by `state_dict`."""


def gather_scores_and_maps(batches: Iterable[tuple[Any, Any]], count: int, keep: np.ndarray,
                           map_size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """The scores of all `count` images and the (len(keep), *map_size) maps of the rows `keep` (in `keep`'s
    order) from per-batch (scores, maps) pairs in image order (tensors or arrays); maps None where the batches
    carry none. Only the kept rows' maps are held."""
    position = np.full(count, -1, dtype=np.intp)
    position[keep] = np.arange(len(keep))
    scores = np.empty(count, dtype=np.float64)
    maps: np.ndarray | None = np.empty((len(keep), *map_size), dtype=np.float32)
    start = 0
    for batch_scores, batch_maps in batches:
        values = _as_numpy(batch_scores).reshape(-1)
        stop = start + len(values)
        if stop > count:
            raise RuntimeError(f"{stop} scores for {count} images")
        scores[start:stop] = values
        rows = position[start:stop]
        selected = rows >= 0
        if batch_maps is None:
            maps = None
        elif maps is not None and selected.any():
            chosen = batch_maps[torch.from_numpy(selected).to(batch_maps.device)] \
                if isinstance(batch_maps, torch.Tensor) else batch_maps[selected]
            maps[rows[selected]] = _as_numpy(chosen)
        start = stop
    if start != count:
        raise RuntimeError(f"{start} scores for {count} images")
    return scores, maps


def _one_pass_is_current(cls: type[Detector]) -> bool:
    """Whether `cls._scores_and_maps` is defined at or below where `_score` and `_anomaly_maps` are: a subclass
    that changes its scores or maps without changing the one pass falls back to the two passes."""
    def owner(name: str) -> type:
        return next(klass for klass in cls.__mro__ if name in vars(klass))

    one_pass = owner("_scores_and_maps")
    return all(issubclass(one_pass, owner(name)) for name in ("_score", "_anomaly_maps"))


def _as_numpy(values: Any) -> np.ndarray:
    return values.detach().cpu().numpy() if isinstance(values, torch.Tensor) else np.asarray(values)


def probe_fit_on_sample(cls: type[Detector], config: Any, data: DataShape, device: torch.device) -> CostProbe:
    """The default probe: fit the method on a small random sample at the data's size and scale the time linearly
    to the training set (a method with a step-based cost should override `Detector.cost_probe`)."""
    n_train = data.count("train_normal", SAMPLE_IMAGES)
    normal = random_images(min(SAMPLE_IMAGES, n_train), data.channels, data.size, seed=1)
    unlabeled = random_images(SAMPLE_IMAGES, data.channels, data.size, seed=2) if cls.uses_unlabeled else None
    detector = cls(config, seed=0, device=device)
    with peak_memory(device) as peak:
        seconds = timed(lambda: detector.fit(TrainData(normal, unlabeled)), device)
        score_seconds = timed(lambda: detector.score(normal), device) / len(normal)
    n_scored = data.count("test") + data.count("val")
    return CostProbe(parameters=None, seconds_per_step=seconds / len(normal), steps=n_train,
                     step="training image", peak_memory_mb=peak.mb,
                     state_bytes=state_size(detector.state_dict()), extra_seconds=score_seconds * n_scored,
                     notes=(f"generic: fit on {len(normal)} images, scaled linearly",))


def state_on_cpu(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A module's state_dict detached and on the CPU: what `Detector.state_dict` returns for each network."""
    return {k: v.detach().cpu() for k, v in module.state_dict().items()}
