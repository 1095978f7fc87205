"""Preset dataclasses of the anomalib adapter: shared training settings, backbone weights, per-model fields.

Presets (see detector.py): `paper` = anomalib's defaults at the data set's protocol size (as the HealthyGAN paper ran
them) with ImageNet weights; `fast` = fewer epochs / a smaller coreset; `smoke` = a plumbing preset (random backbone,
tiny networks, seconds on a CPU, no download) for `make demo` and the tests' learning checks; `tiny` = one pass or
epoch of the smoke networks, at 32 px for the named baselines, for the contract checks (bench.testing). Smoke
numbers say nothing about the methods' quality.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from bench.core.config import Fraction, ImageSize, NonNegativeInt, PositiveFloat, PositiveInt
from bench.core.errors import BenchError


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """Settings every anomalib model shares."""

    image_size: ImageSize | None = None  # model input side; None: the data set's size (its protocol's, as in the paper)
    epochs: PositiveInt | None = None  # None: anomalib's default for the model (see models.toml)
    batch_size: PositiveInt = 32  # training batch, as anomalib's data modules default to
    score_batch_size: PositiveInt = 32  # inference batch; scores do not depend on it


@dataclasses.dataclass(frozen=True)
class BackboneConfig(TrainingConfig):
    """Models with a pretrained (timm) backbone. Weights: the Hugging Face cache (HF_HOME), a download, or
    `backbone_weights=PATH`; `pretrained=false` builds a random backbone (offline tests only)."""

    pretrained: bool = True
    backbone: str | None = None  # None: anomalib's default backbone for the model
    backbone_weights: Path | None = None  # a local .safetensors / .pth for the backbone, instead of the hub


@dataclasses.dataclass(frozen=True)
class AnomalibConfig(BackboneConfig):
    """Any `anomalib:<name>` model: further constructor arguments go in `model_args` as a JSON object,
    e.g. `--set 'model_args={"flow_steps": 4}'`."""

    model_args: str = ""

    def __post_init__(self) -> None:  # found when the preset is built (plan time), not after decoding (issue 28)
        if self.model_args:
            try:
                parsed = json.loads(self.model_args)
            except json.JSONDecodeError as exc:
                raise BenchError(f"model_args must be a JSON object, e.g. '{{\"flow_steps\": 4}}': {exc}") from None
            if not isinstance(parsed, dict):
                raise BenchError("model_args must be a JSON object, e.g. '{\"flow_steps\": 4}'")


@dataclasses.dataclass(frozen=True)
class PadimConfig(BackboneConfig):
    """PaDiM (anomalib defaults: resnet18, layer1-3, 100 random feature dimensions)."""

    layers: tuple[str, ...] = ("layer1", "layer2", "layer3")
    n_features: PositiveInt | None = None  # None: anomalib's default (resnet18: 100, wide_resnet50_2: 550)


@dataclasses.dataclass(frozen=True)
class PatchcoreConfig(BackboneConfig):
    """PatchCore (anomalib defaults: wide_resnet50_2, layer2-3, 10% coreset, 9 neighbours for re-weighting)."""

    layers: tuple[str, ...] = ("layer2", "layer3")
    coreset_sampling_ratio: Fraction = 0.1
    num_neighbors: PositiveInt = 9


@dataclasses.dataclass(frozen=True)
class GanomalyConfig(TrainingConfig):
    """GANomaly (anomalib defaults; no pretrained weights). anomalib's example config trains 100 epochs."""

    n_features: PositiveInt = 64
    latent_vec_size: PositiveInt = 100
    extra_layers: NonNegativeInt = 0
    add_final_conv_layer: bool = True
    wadv: NonNegativeInt = 1
    wcon: NonNegativeInt = 50
    wenc: NonNegativeInt = 1
    lr: PositiveFloat = 0.0002
    beta1: Fraction = 0.5
    beta2: Fraction = 0.999


def model_fields(config_class: type) -> tuple[str, ...]:
    """Fields of `config_class` that are anomalib constructor arguments (those beyond the shared settings)."""
    shared = {f.name for f in dataclasses.fields(AnomalibConfig)}
    return tuple(f.name for f in dataclasses.fields(config_class) if f.name not in shared)
