"""The shared GAN training loop: n_critic D steps per G step, bf16 autocast on CUDA, loss log and progress,
checkpoints with exact resume, divergence handling and checkpoint selection.

A method supplies a `GANSteps` object (its networks, optimisers and two loss functions); the loop owns
everything else. One iteration = one D step; a G step follows every `n_critic`-th iteration on the same batch
(StarGAN's convention, used by HealthyGAN and SAGAN).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import nn

from bench.core.errors import BenchError
from bench.core.interrupts import TrainingInterrupted, deferred_interrupts
from bench.core.progress import Progress
from bench.methods._gan.accel import Accel, eval_mode
from bench.methods._gan.checkpoint import (
    BEST,
    LAST,
    load_checkpoint,
    load_module_states,
    module_states,
    preserved_rng,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from bench.methods._gan.data import DeviceSampler
from bench.methods._gan.losslog import LossAverager, LossLog
from bench.methods._gan.selection import SelectionTracker, Selector

Losses = dict[str, torch.Tensor]


@runtime_checkable
class GANSteps(Protocol):
    """What a method plugs into the loop.

    `modules`: every module to checkpoint, by name (e.g. {"G": generator, "D": critic}).
    `optimizers`: {"D": ..., "G": ...}; the loop zeroes, back-propagates and steps them.
    `best_modules`: the modules the selection keeps for inference (e.g. ("G",)).
    `d_step(batch, g_step_follows=...)` / `g_step(batch)`: the forward passes and losses, run under the loop's
    autocast; they return a dict whose "loss" entry is minimised and whose other entries (detached) are
    logged.
    `g_step_follows` tells the D step that a G step on the same batch comes next, so it may keep the
    generator's graph for it (exactly equivalent: G does not change between the two steps).
    """

    modules: Mapping[str, nn.Module]
    optimizers: Mapping[str, torch.optim.Optimizer]
    best_modules: tuple[str, ...]

    def d_step(self, batch: Mapping[str, torch.Tensor], *, g_step_follows: bool) -> Losses: ...

    def g_step(self, batch: Mapping[str, torch.Tensor]) -> Losses: ...


Observer = Callable[["GANLoop"], None]
_OBSERVERS: contextvars.ContextVar[tuple[Observer, ...]] = contextvars.ContextVar("gan_checkpoint_observers",
                                                                                   default=())


@contextlib.contextmanager
def observe_checkpoints(observer: Observer) -> Iterator[None]:
    """Within the block, every `GANLoop` calls `observer(loop)` at each of its checkpoints (after the selection and
    the loop's own hook), with the RNG state preserved, the modules in eval mode and no gradients, so training goes
    on exactly as without it. For measurements from outside a method (benchmarks.gpu_check's learning curves)."""
    token = _OBSERVERS.set((*_OBSERVERS.get(), observer))
    try:
        yield
    finally:
        _OBSERVERS.reset(token)


class DivergenceError(RuntimeError):
    """Training produced non-finite losses a second time, after the lr had already been halved once."""


@dataclasses.dataclass(frozen=True)
class LoopSettings:
    """How long and how often: the loop's share of a method's preset."""

    iterations: int
    n_critic: int = 2
    checkpoint_every: int = 1000
    log_every: int = 50
    lr_decay: Literal["none", "linear"] = "none"
    lr_decay_iters: int = 0  # linear decay to 0 over the last lr_decay_iters iterations
    description: str = "train"


@dataclasses.dataclass
class TrainResult:
    """What happened: for run.json."""

    iterations: int
    resumed_from: int
    seconds: float
    selection: dict[str, Any]
    divergences: list[int]
    lr_scale: float

    def info(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def fingerprint(*parts: Any) -> str:
    """A short hash of JSON-able parts (config, data identity): a resume never continues another run."""
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class GANLoop:
    """Runs `steps` for `settings.iterations` iterations. `folder` holds checkpoints/ and losses.csv (None: a
    temporary folder, removed at the end: nothing is kept and nothing resumes)."""

    def __init__(self, steps: GANSteps, sampler: DeviceSampler, settings: LoopSettings, *, accel: Accel,
                 folder: Path | None, identity: str, selector: Selector | None = None,
                 progress: Progress | None = None,
                 on_checkpoint: Callable[[int], None] | None = None) -> None:
        for key in ("D", "G"):
            if key not in steps.optimizers:
                raise ValueError(f"GANSteps.optimizers needs a {key!r} optimiser")
        self.steps, self.sampler, self.settings, self.accel = steps, sampler, settings, accel
        self.folder = None if folder is None else Path(folder)
        self.identity, self.selector = identity, selector
        self.progress = progress or Progress()
        self.on_checkpoint = on_checkpoint
        policy = "last" if selector is None else selector.name
        self.tracker = SelectionTracker(policy, True if selector is None else selector.higher_is_better)
        self.iteration = 0
        self.lr_scale = 1.0
        self.divergences: list[int] = []
        self._base_lr = {name: [g["lr"] for g in opt.param_groups] for name, opt in steps.optimizers.items()}

    def run(self) -> TrainResult:
        """Train (resuming from the folder's last checkpoint), then load the selected weights."""
        if self.folder is None:
            with tempfile.TemporaryDirectory(prefix="bench-gan-") as temp:
                return self._run(Path(temp) / "checkpoints", None)
        return self._run(self.folder / "checkpoints", self.folder)

    def _run(self, checkpoints: Path, log_folder: Path | None) -> TrainResult:
        checkpoints.mkdir(parents=True, exist_ok=True)
        start_time = time.perf_counter()
        resumed = self._restore(checkpoints / LAST)
        if not resumed:
            self.save(checkpoints / LAST)  # the state to fall back to if the first steps already diverge
        resumed_from = self.iteration
        log = LossLog(log_folder, resume_from=self.iteration)
        if resumed:
            self.progress.log(f"{self.settings.description}: resuming at iteration {self.iteration}")
        try:
            self._train(checkpoints, log)
        finally:
            log.close()
        self._load_best(checkpoints)
        return TrainResult(self.iteration, resumed_from, time.perf_counter() - start_time,
                           self.tracker.state_dict(), list(self.divergences), self.lr_scale)

    def _train(self, checkpoints: Path, log: LossLog) -> None:
        s = self.settings
        averager = LossAverager()
        with self.progress.task(s.description, total=s.iterations, completed=self.iteration) as bar, \
                deferred_interrupts() as interrupted:
            while self.iteration < s.iterations and not self.should_stop():
                if interrupted:  # Ctrl-C / SIGTERM: stop between iterations, where the state is whole
                    self.save(checkpoints / LAST)
                    raise TrainingInterrupted(f"a training checkpoint at iteration {self.iteration} of "
                                              f"{s.iterations}")
                self._set_lr()
                batch = {name: self.accel.images(x) for name, x in self.sampler.sample().items()}
                averager.add(self.train_step(batch))
                at_checkpoint = self.iteration % s.checkpoint_every == 0 or self.iteration == s.iterations
                if not (at_checkpoint or self.iteration % s.log_every == 0):
                    bar.advance(1)
                    continue
                means = averager.means()
                if not all(map(_finite, means.values())):
                    log.write(self.iteration, {**means, "lr_scale": self.lr_scale})
                    before = self.iteration
                    self._diverged(checkpoints, means)
                    bar.advance(1 + self.iteration - before)  # back to the restored iteration
                    continue
                log.write(self.iteration, {**means, "lr_scale": self.lr_scale})
                bar.advance(1, **{k: v for k, v in means.items() if not k.startswith("d_")})
                if at_checkpoint:
                    self._checkpoint(checkpoints)

    def should_stop(self) -> bool:
        """Whether to end training before `settings.iterations` (checked before every iteration, also right after
        a resume): never here; a subclass may stop early from the selection history it checkpoints."""
        return False

    def train_step(self, batch: Mapping[str, torch.Tensor]) -> Losses:
        """One iteration on `batch`: a D step, then a G step when this iteration is an n_critic-th one.
        Returns the losses (totals as `D` / `G`); advances `iteration`. The loop calls it; benchmarks too."""
        g_follows = (self.iteration + 1) % self.settings.n_critic == 0
        losses = _rename(self._update("D", self.steps.d_step, batch, g_step_follows=g_follows), "D")
        if g_follows:
            losses.update(_rename(self._update("G", self.steps.g_step, batch), "G"))
        self.iteration += 1
        return losses

    def _update(self, which: str, loss_fn: Callable[..., Losses], batch: Mapping[str, torch.Tensor],
                **kwargs: Any) -> Losses:
        optimizer = self.steps.optimizers[which]
        # The G step needs no gradients for the critic's parameters: freezing them is exact and saves work.
        critic = [p for g in self.steps.optimizers["D"].param_groups for p in g["params"]]
        frozen = critic if which == "G" else []
        for p in frozen:
            p.requires_grad_(False)
        try:
            optimizer.zero_grad(set_to_none=True)
            with self.accel.autocast():
                losses = loss_fn(batch, **kwargs)
            losses["loss"].backward()
            optimizer.step()
        finally:
            for p in frozen:
                p.requires_grad_(True)
        return losses

    def _set_lr(self) -> None:
        s = self.settings
        factor = self.lr_scale
        if s.lr_decay == "linear" and s.lr_decay_iters > 0:
            start = s.iterations - s.lr_decay_iters
            if self.iteration >= start:
                factor *= max(0.0, (s.iterations - self.iteration) / s.lr_decay_iters)
        for name, optimizer in self.steps.optimizers.items():
            for group, base in zip(optimizer.param_groups, self._base_lr[name], strict=True):
                group["lr"] = base * factor

    def _checkpoint(self, checkpoints: Path) -> None:
        if self.selector is not None:
            with preserved_rng(), eval_mode(*self.steps.modules.values()), torch.no_grad():
                value = self.selector.evaluate()
            if self.tracker.record(self.iteration, value):
                save_checkpoint(checkpoints / BEST, {"iteration": self.iteration, "value": value,
                                                     "modules": module_states(self.steps.modules,
                                                                              self.steps.best_modules)})
            best = f"best {self.tracker.best_value:.4f} at {self.tracker.best_iteration}"
            self.progress.log(f"{self.settings.description}: iteration {self.iteration} "
                              f"{self.selector.name} {value:.4f} ({best})")
        if self.on_checkpoint is not None:
            with preserved_rng(), eval_mode(*self.steps.modules.values()), torch.no_grad():
                self.on_checkpoint(self.iteration)
        for observer in _OBSERVERS.get():
            with preserved_rng(), eval_mode(*self.steps.modules.values()), torch.no_grad():
                observer(self)
        self.save(checkpoints / LAST)

    def save(self, path: Path) -> None:
        """Write the whole training state (what a resumed run continues from) to `path`, atomically."""
        save_checkpoint(path, {
            "identity": self.identity, "iteration": self.iteration, "lr_scale": self.lr_scale,
            "divergences": list(self.divergences), "modules": module_states(self.steps.modules),
            "optimizers": {n: o.state_dict() for n, o in self.steps.optimizers.items()},
            "sampler": self.sampler.state_dict(), "rng": rng_state(), "selection": self.tracker.state_dict(),
        })

    def _restore(self, path: Path) -> bool:
        state = load_checkpoint(path)
        if state is None:
            return False
        if state["identity"] != self.identity:
            raise BenchError(f"{path} was written by a run with another configuration or other data; "
                             "remove its folder (or run with --force) to start over")
        load_module_states(self.steps.modules, state["modules"])
        for name, optimizer in self.steps.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])
        self.sampler.load_state_dict(state["sampler"])
        set_rng_state(state["rng"])
        self.tracker.load_state_dict(state["selection"])
        self.iteration = int(state["iteration"])
        self.lr_scale = float(state["lr_scale"])
        self.divergences = [int(i) for i in state["divergences"]]
        return True

    def _diverged(self, checkpoints: Path, means: Mapping[str, float]) -> None:
        bad = ", ".join(f"{k}={v}" for k, v in means.items() if not _finite(v))
        at = self.iteration
        if self.divergences:
            raise DivergenceError(
                f"{self.settings.description}: non-finite losses again at iteration {at} ({bad}) after "
                f"the lr was halved at iteration {self.divergences[0]}; stopping. Checkpoints are kept in "
                f"{checkpoints}. Try a lower lr or lambda (--set ...)."
            )
        divergences = [*self.divergences, at]
        self._restore(checkpoints / LAST)
        self.divergences, self.lr_scale = divergences, self.lr_scale * 0.5
        self.progress.log(f"{self.settings.description}: non-finite losses at iteration {at} ({bad}); "
                          f"restored iteration {self.iteration} and halved the learning rate")

    def _load_best(self, checkpoints: Path) -> None:
        if self.selector is None or self.tracker.best_iteration is None:
            return
        best = load_checkpoint(checkpoints / BEST)
        if best is None or int(best["iteration"]) != self.tracker.best_iteration:
            raise BenchError(f"{checkpoints / BEST} is missing or does not match the selection history; "
                             "remove the run folder (or run with --force) to start over")
        load_module_states(self.steps.modules, best["modules"])


def _finite(value: float) -> bool:
    return value == value and abs(value) != float("inf")


def _rename(losses: Losses, prefix: str) -> Losses:
    """The total loss as `D` / `G`, the other entries under their own names (which must not collide)."""
    out = {prefix: losses["loss"]}
    for name, value in losses.items():
        if name != "loss":
            out[name] = value
    return out
