"""DDAD's training run, one detector in one run: the UDM's K autoencoders (known normals + the unlabeled set), the
NDM's K (known normals), one after another as the authors' scripts train them, then the ASR-Net with all 2K
frozen (refined scores only).

Each network is a phase with its own seeded initialisation, batch order and synthetic anomalies (one device
generator per phase), so a resumed run repeats an uninterrupted one exactly. Checkpoints (`<folder>/checkpoints`):
`<phase>.pt` holds each finished network (written once), `last.pt` the phase in progress (network, Adam, epoch,
position in the epoch's order, generator); both carry the run's identity, so a resume never continues another run.
A first Ctrl-C / SIGTERM stops between two steps and saves `last.pt` there. Nothing selects: every network keeps
its final epoch. `losses.csv` gets one row per epoch (the phase's losses averaged over the epoch).
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.core.errors import BenchError
from bench.core.interrupts import TrainingInterrupted, deferred_interrupts
from bench.core.progress import Progress
from bench.methods._gan.accel import Accel
from bench.methods._gan.checkpoint import load_checkpoint, save_checkpoint
from bench.methods._gan.losslog import LossAverager, LossLog
from bench.methods.ddad.discrepancy import REFINED, anomaly_probability, discrepancies, refine_input
from bench.methods.ddad.images import to_input
from bench.methods.ddad.losses import focal_loss, reconstruction_loss
from bench.methods.ddad.networks import Autoencoder, RefineNet, build_backbone
from bench.methods.ddad.presets import DDADConfig
from bench.methods.ddad.synthetic import other_indices, patch_anomalies

LAST = "last.pt"
NORMAL, MIXED = "normal", "mixed"  # the training sets: known normals; known normals + the unlabeled set
ASR = "asr"


@dataclasses.dataclass(frozen=True)
class Phase:
    """One network's training: its name (udm-1.., ndm-1.., asr), the set it draws from, epochs and batch."""

    index: int
    name: str
    data: str
    epochs: int
    batch_size: int

    def steps_per_epoch(self, n: int) -> int:
        """Full batches per epoch (the last partial batch is dropped); one batch of all `n` when n < batch."""
        return max(1, n // self.batch_size)

    def batch(self, n: int) -> int:
        return min(self.batch_size, n)


def phases(config: DDADConfig) -> list[Phase]:
    """UDM 1..K, NDM 1..K, then the ASR-Net where the score is a refined one."""
    k = config.n_networks
    out = [Phase(i, f"udm-{i + 1}", MIXED, config.epochs, config.batch_size) for i in range(k)]
    out += [Phase(k + i, f"ndm-{i + 1}", NORMAL, config.epochs, config.batch_size) for i in range(k)]
    if config.score in REFINED:
        out.append(Phase(2 * k, ASR, NORMAL, config.asr_epochs, config.asr_batch_size))
    return out


def phase_seed(seed: int, index: int) -> int:
    """The seed of phase `index` of a run with `seed` (initialisation and its generator)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def build_autoencoder(config: DDADConfig) -> Autoencoder:
    return build_backbone(config.backbone, latent_size=config.latent_size, multiplier=config.multiplier,
                          image_size=config.image_size, mem_dim=config.mem_dim,
                          shrink_threshold=config.shrink_threshold)


def build_refine(config: DDADConfig) -> RefineNet:
    return RefineNet(len(REFINED[config.score]), 2, config.asr_channels)


def build_seeded(phase: Phase, config: DDADConfig, seed: int) -> nn.Module:
    """The phase's network, initialised from its own seed (the global RNG is left as it was)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(phase_seed(seed, phase.index))
        return build_refine(config) if phase.name == ASR else build_autoencoder(config)


@dataclasses.dataclass
class Trained:
    """The run's networks (UDM, NDM, the ASR-Net or None) and facts for run.json."""

    udm: list[Autoencoder]
    ndm: list[Autoencoder]
    refine: RefineNet | None
    info: dict[str, Any]


Step = Callable[[torch.Tensor, torch.Generator], dict[str, torch.Tensor]]


class DDADTraining:
    """Trains every phase of `config` on `sets` ({"normal": uint8 (N, 1, S, S), "mixed": ...} on the device),
    resuming from `folder` (None: a temporary folder, nothing kept)."""

    def __init__(self, config: DDADConfig, sets: Mapping[str, torch.Tensor], *, accel: Accel, folder: Path | None,
                 identity: str, seed: int, progress: Progress | None = None) -> None:
        self.config, self.sets, self.accel = config, dict(sets), accel
        self.folder = None if folder is None else Path(folder)
        self.identity, self.seed = identity, seed
        self.progress = progress or Progress()
        self.phases = phases(config)

    def total_steps(self) -> int:
        return sum(p.epochs * p.steps_per_epoch(len(self.sets[p.data])) for p in self.phases)

    def run(self) -> Trained:
        if self.folder is None:
            with tempfile.TemporaryDirectory(prefix="bench-ddad-") as temp:
                return self._run(Path(temp) / "checkpoints", None)
        return self._run(self.folder / "checkpoints", self.folder)

    def _run(self, checkpoints: Path, log_folder: Path | None) -> Trained:
        checkpoints.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        networks: dict[str, nn.Module] = {}
        done = resumed_from = 0
        last = self._load(checkpoints / LAST)
        for phase in self.phases:  # finished networks of an earlier, interrupted run of the same configuration
            finished = self._load(checkpoints / f"{phase.name}.pt")
            if finished is None:
                break
            networks[phase.name] = self._restored(phase, finished["module"])
            done += self._phase_steps(phase)
        if last is not None and last["phase"] not in networks:
            resumed_from = done + int(last["steps"])
        elif networks:
            resumed_from = done
        if resumed_from:
            self.progress.log(f"ddad: resuming at step {resumed_from} of {self.total_steps()}")
        log = LossLog(log_folder, resume_from=resumed_from)
        try:
            with self.progress.task("ddad", total=self.total_steps(), completed=resumed_from) as bar, \
                    deferred_interrupts() as interrupted:
                for phase in self.phases:
                    if phase.name in networks:
                        continue
                    state = last if last is not None and last["phase"] == phase.name else None
                    networks[phase.name] = self._train_phase(phase, networks, state, checkpoints, log, bar,
                                                             interrupted, done)
                    done += self._phase_steps(phase)
        finally:
            log.close()
        k = self.config.n_networks
        info = {"images": {name: len(images) for name, images in self.sets.items()},
                "phases": [p.name for p in self.phases], "steps": self.total_steps(), "resumed_from": resumed_from,
                "seconds": time.perf_counter() - start,
                "epochs": {p.name: p.epochs for p in self.phases},
                "steps_per_epoch": {p.name: self._phase_steps(p) // p.epochs for p in self.phases},
                "selection": "final epoch of every network (no selection; never the test split)"}
        return Trained([networks[f"udm-{i + 1}"] for i in range(k)], [networks[f"ndm-{i + 1}"] for i in range(k)],
                       networks.get(ASR), info)

    # --- one phase ----------------------------------------------------------------------------------------------
    def _phase_steps(self, phase: Phase) -> int:
        return phase.epochs * phase.steps_per_epoch(len(self.sets[phase.data]))

    def _restored(self, phase: Phase, state: Mapping[str, Any]) -> nn.Module:
        module = build_seeded(phase, self.config, self.seed)
        module.load_state_dict(state)
        return self.accel.prepare(module).eval()

    def _train_phase(self, phase: Phase, networks: Mapping[str, nn.Module], state: Mapping[str, Any] | None,
                     checkpoints: Path, log: LossLog, bar: Any, interrupted: Any, done_before: int) -> nn.Module:
        c, device = self.config, self.accel.device
        module = self.accel.prepare(build_seeded(phase, c, self.seed)).train()
        if phase.name == ASR:
            optimizer = torch.optim.Adam(module.parameters(), lr=c.asr_lr, betas=(c.beta1, c.beta2),
                                         weight_decay=c.asr_weight_decay)
            step = self._asr_step(module, networks)
        else:
            optimizer = torch.optim.Adam(module.parameters(), lr=c.lr, betas=(c.beta1, c.beta2),
                                         weight_decay=c.weight_decay)
            step = self._ae_step(module, self.sets[phase.data])
        generator = torch.Generator(device=device)
        generator.manual_seed(phase_seed(self.seed, phase.index))
        images = self.sets[phase.data]
        n, batch = len(images), phase.batch(len(images))
        per_epoch = phase.steps_per_epoch(n)
        epoch, position, order = 0, 0, None
        if state is not None:
            module.load_state_dict(state["module"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["generator"].cpu())
            epoch, position = int(state["epoch"]), int(state["position"])
            order = state["order"].to(device) if state["order"] is not None else None

        def save() -> None:
            save_checkpoint(checkpoints / LAST, {
                "identity": self.identity, "phase": phase.name, "epoch": epoch, "position": position,
                "steps": epoch * per_epoch + position, "order": None if order is None else order.cpu(),
                "generator": generator.get_state(), "module": _cpu_state(module),
                "optimizer": optimizer.state_dict()})

        averager = LossAverager()
        while epoch < phase.epochs:
            if order is None:
                order = torch.randperm(n, generator=generator, device=device)
            while position < per_epoch:
                if interrupted:  # Ctrl-C / SIGTERM: stop between steps, where the state is whole
                    save()
                    raise TrainingInterrupted(f"a training checkpoint of {phase.name} at epoch {epoch}, step "
                                              f"{position} of {per_epoch}")
                indices = order[position * batch:(position + 1) * batch]
                optimizer.zero_grad(set_to_none=True)
                losses = step(indices, generator)
                losses["loss"].backward()
                optimizer.step()
                averager.add(losses)
                position += 1
                bar.advance(1)
            epoch, position, order = epoch + 1, 0, None
            means = averager.means()
            if not all(v == v and abs(v) != float("inf") for v in means.values()):
                raise BenchError(f"ddad: non-finite loss in {phase.name} at epoch {epoch} ({means}); checkpoints "
                                 f"are kept in {checkpoints}. Try a lower lr (--set lr=... / asr_lr=...).")
            log.write(done_before + epoch * per_epoch, {f"{phase.name}_{k}": v for k, v in means.items()})
            if epoch % self.config.checkpoint_every == 0 or epoch == phase.epochs:
                save()
        save_checkpoint(checkpoints / f"{phase.name}.pt", {"identity": self.identity, "module": _cpu_state(module)})
        return module.eval()

    def _ae_step(self, module: nn.Module, images: torch.Tensor) -> Step:
        c, accel = self.config, self.accel
        train_module = accel.maybe_compile(module)

        def step(indices: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            x = accel.images(to_input(images.index_select(0, indices)))
            with accel.autocast():
                out = train_module(x)
            return reconstruction_loss(c.backbone, x, out, c.entropy_weight)

        return step

    def _asr_step(self, module: nn.Module, networks: Mapping[str, nn.Module]) -> Step:
        c, accel = self.config, self.accel
        k = c.n_networks
        udm = [networks[f"udm-{i + 1}"].eval() for i in range(k)]
        ndm = [networks[f"ndm-{i + 1}"].eval() for i in range(k)]
        train_module = accel.maybe_compile(module)
        normals = self.sets[NORMAL]

        def step(indices: torch.Tensor, generator: torch.Generator) -> dict[str, torch.Tensor]:
            x = to_input(normals.index_select(0, indices))
            sources = to_input(normals.index_select(0, other_indices(indices, len(normals), generator)))
            x, mask = patch_anomalies(x, sources, generator, probability=c.anomaly_probability)
            x = accel.images(x)
            with torch.no_grad(), accel.autocast():
                maps = discrepancies(x, [m(x) for m in udm], [m(x) for m in ndm])
            with accel.autocast():
                logits = train_module(accel.images(refine_input(maps, c.score)))
            probabilities = torch.softmax(logits.float(), dim=1)
            loss = focal_loss(probabilities, mask)
            return {"loss": loss, "p_anomaly": anomaly_probability(logits.detach()).mean()}

        return step

    def _load(self, path: Path) -> dict[str, Any] | None:
        state = load_checkpoint(path)
        if state is not None and state["identity"] != self.identity:
            raise BenchError(f"{path} was written by a run with another configuration or other data; "
                             "remove its folder (or run with --force) to start over")
        return state


def _cpu_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}
