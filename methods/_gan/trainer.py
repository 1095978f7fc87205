"""The GAN plugins' shared train driver: one `train` for HealthyGAN and SAGAN.

A method supplies a `GANRecipe`: its networks (G, and the shared PatchGAN critic), the size its networks work
at, and its D and G steps (a `GANSteps`, usually an `AdversarialSteps` subclass holding its losses). The driver
owns the rest: the FID hold-out and checkpoint selector, the training sets on the device, the batch sampler,
the resume identity and the shared loop.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from torch import nn

from bench.core.config import config_to_dict
from bench.core.errors import BenchError
from bench.core.images import ImageSet, TrainData
from bench.core.progress import Progress
from bench.methods._gan.accel import Accel
from bench.methods._gan.data import DeviceSampler, ids_digest, images_to_device
from bench.methods._gan.loop import GANLoop, GANSteps, LoopSettings, TrainResult, fingerprint
from bench.methods._gan.selection import setup_selection

FIDFeatures = Callable[[torch.Tensor], torch.Tensor]
CheckpointHook = Callable[[Mapping[str, torch.Tensor], int], None]


class GANConfig(Protocol):
    """The fields of a GAN plugin's config that the driver, the steps and the shared critic read."""

    image_size: int | None
    channels: int
    hflip: bool
    d_conv_dim: int
    d_repeat_num: int | None
    critic_init: Literal["pytorch", "he"]
    lambda_gp: float
    n_critic: int
    g_lr: float
    d_lr: float
    beta1: float
    beta2: float
    lr_decay: Literal["none", "linear"]
    lr_decay_iters: int
    iterations: int
    batch_size: int
    selection: str
    checkpoint_every: int
    log_every: int
    fid_holdout: int
    fid_weights: Path | None
    accel: Literal["auto", "on", "off"]
    amp: bool
    channels_last: bool
    compile: bool


class AdversarialSteps:
    """The part of a `GANSteps` every WGAN-GP plugin shares: G (and a possibly compiled copy `G_train` that
    shares its parameters), the critic D, Adam for both with the config's lr and betas, and a slot for the
    generator pass a D step keeps for the G step that follows it. Subclasses write `d_step` and `g_step`.
    `sampler` (the loop's) is there for steps that draw more training images than the batch holds."""

    best_modules = ("G",)

    def __init__(self, generator: nn.Module, critic: nn.Module, config: Any, accel: Accel,
                 sampler: DeviceSampler | None = None) -> None:
        self.G, self.D, self.config, self.accel, self.sampler = generator, critic, config, accel, sampler
        self.G_train = accel.maybe_compile(generator)  # shares parameters with G
        self.modules = {"G": generator, "D": critic}
        betas = (config.beta1, config.beta2)
        self.optimizers = {"G": torch.optim.Adam(generator.parameters(), lr=config.g_lr, betas=betas),
                           "D": torch.optim.Adam(critic.parameters(), lr=config.d_lr, betas=betas)}
        self._kept: Any = None

    def take_kept(self) -> Any:
        """The generator pass the D step kept for this G step (None if it kept none), emptying the slot."""
        kept, self._kept = self._kept, None
        return kept


@dataclasses.dataclass(frozen=True)
class GANRecipe:
    """What a GAN plugin supplies to the shared driver.

    `label`: the method's name in messages ("HealthyGAN"); `description`: its name on the progress bar and in
    the loop's log lines ("healthygan"); `set_keys`: the batch keys of the unlabeled and the normal set (its
    steps read batches by these keys); `unlabeled_needed`: what the error says when the unlabeled set is missing;
    `model_size(config, normal)`: the side length the networks work at; `build_networks(config, size)`: fresh G
    and D; `build_generator(config)`: G alone (to rebuild a saved detector); `make_steps(G, D, config, accel,
    sampler)`: the D and G steps, given the loop's batch sampler too; `scoring_pass(G, D, x)`: the networks' work
    to score images `x` (the dry run times it; default G(x), an image-to-image generator)."""

    label: str
    description: str
    set_keys: tuple[str, str]
    unlabeled_needed: str
    model_size: Callable[[Any, ImageSet], int]
    build_networks: Callable[[Any, int], tuple[nn.Module, nn.Module]]
    build_generator: Callable[[Any], nn.Module]
    make_steps: Callable[[nn.Module, nn.Module, Any, Accel, DeviceSampler], GANSteps]
    scoring_pass: Callable[[nn.Module, nn.Module, torch.Tensor], object] | None = None


def square_size(config: GANConfig, data: ImageSet, label: str) -> int:
    """`config.image_size`, or the images' side length when they are square (else a clear error)."""
    height, width = data.size
    if config.image_size is None and height != width:
        raise BenchError(f"{label} needs square images, got {height}x{width}; set image_size")
    return config.image_size or height


def train(recipe: GANRecipe, generator: nn.Module, critic: nn.Module, data: TrainData, *, config: GANConfig,
          seed: int, accel: Accel, workdir: Path | None, progress: Progress,
          score: Callable[[ImageSet], np.ndarray], translate: Callable[[torch.Tensor], torch.Tensor],
          val: ImageSet | None = None, fid_features: FIDFeatures | None = None,
          on_checkpoint: CheckpointHook | None = None) -> tuple[TrainResult, dict[str, torch.Tensor]]:
    """Train G and D in place (resuming from `workdir`) and leave the selected weights in G.

    `score` and `translate` use the current weights (for val-auc and FID selection). `on_checkpoint(sets,
    iteration)` runs at each checkpoint with the device-resident training sets. Returns the loop's result and
    those sets, keyed by `recipe.set_keys`."""
    if data.unlabeled is None or len(data.unlabeled) == 0:
        raise BenchError(f"{recipe.label} needs {recipe.unlabeled_needed}")
    size = recipe.model_size(config, data.normal)
    chosen = setup_selection(config.selection, data.unlabeled, data.normal, device=accel.device, size=size,
                             channels=config.channels, holdout=config.fid_holdout, seed=seed, score=score,
                             translate=translate, val=val, fid_features=fid_features,
                             fid_weights=config.fid_weights)
    unlabeled, normal, selector = chosen.unlabeled, chosen.normal, chosen.selector
    unlabeled_key, normal_key = recipe.set_keys
    sets = {unlabeled_key: images_to_device(unlabeled, accel.device, size=size),
            normal_key: images_to_device(normal, accel.device, size=size)}
    sampler = DeviceSampler(sets, config.batch_size, seed=seed, channels=config.channels, hflip=config.hflip)
    for module in (generator, critic):
        accel.prepare(module).train()
    steps = recipe.make_steps(generator, critic, config, accel, sampler)
    settings = LoopSettings(iterations=config.iterations, n_critic=config.n_critic,
                            checkpoint_every=config.checkpoint_every, log_every=config.log_every,
                            lr_decay=config.lr_decay, lr_decay_iters=config.lr_decay_iters,
                            description=recipe.description)
    identity = fingerprint(config_to_dict(config), seed, size, ids_digest(unlabeled), ids_digest(normal))
    hook = None if on_checkpoint is None else (lambda iteration: on_checkpoint(sets, iteration))
    loop = GANLoop(steps, sampler, settings, accel=accel, folder=workdir, identity=identity,
                   selector=selector, progress=progress, on_checkpoint=hook)
    return loop.run(), sets
