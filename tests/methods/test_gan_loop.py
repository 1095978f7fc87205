"""The shared GAN loop on a tiny real GAN: exact resume, loss log, divergence handling, n_critic, selection."""

from __future__ import annotations

import csv
import os
import signal
from pathlib import Path

import pytest
import torch
from torch import nn

from bench.core.errors import BenchError
from bench.core.interrupts import TrainingInterrupted
from bench.core.progress import Progress, ProgressTask
from bench.methods._gan import (
    Accel,
    DeviceSampler,
    DivergenceError,
    GANLoop,
    LoopSettings,
    critic_loss_gp,
    generator_adversarial_loss,
)


class TinySteps:
    """A small WGAN-GP that maps A towards B; `poison` lists the D-step calls (1-based) that return NaN."""

    best_modules = ("G",)

    def __init__(self, poison: set[int] | None = None, poison_from: int | None = None) -> None:
        torch.manual_seed(0)
        self.G = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 1, 3, padding=1), nn.Tanh())
        self.D = nn.Sequential(nn.Conv2d(1, 4, 4, 2, 1), nn.LeakyReLU(0.01), nn.Conv2d(4, 1, 4, 2, 1))
        self.modules = {"G": self.G, "D": self.D}
        self.optimizers = {"G": torch.optim.Adam(self.G.parameters(), lr=1e-3, betas=(0.5, 0.999)),
                           "D": torch.optim.Adam(self.D.parameters(), lr=1e-3, betas=(0.5, 0.999))}
        self.poison, self.poison_from, self.d_calls = poison or set(), poison_from, 0

    def d_step(self, batch, *, g_step_follows):
        self.d_calls += 1
        losses = critic_loss_gp(self.D, real=batch["B"], fake=self.G(batch["A"]).detach())
        if self.d_calls in self.poison or (self.poison_from is not None and self.d_calls >= self.poison_from):
            losses["loss"] = losses["loss"] * float("nan")
        return losses

    def g_step(self, batch):
        adversarial = generator_adversarial_loss(self.D(self.G(batch["A"])))
        return {"loss": adversarial, "adv": adversarial.detach()}


class InterruptAt(Progress):
    """Progress whose bar raises KeyboardInterrupt when it reaches `iteration` (what Ctrl-C does mid-run)."""

    def __init__(self, iteration: int) -> None:
        self.iteration = iteration

    def task(self, description, total=None, completed=0):
        outer = self

        class Bar(ProgressTask):
            done = completed

            def advance(self, n=1, **fields):
                before, self.done = self.done, self.done + n
                if before < outer.iteration <= self.done:
                    outer.interrupt()

        return Bar()

    def interrupt(self) -> None:
        raise KeyboardInterrupt


def make_loop(folder: Path | None, steps: TinySteps | None = None, iterations: int = 12, progress=None,
              identity: str = "tiny", selector=None, checkpoint_every: int = 4) -> GANLoop:
    images = torch.Generator().manual_seed(3)
    sets = {"A": torch.randint(0, 256, (10, 1, 8, 8), generator=images, dtype=torch.uint8),
            "B": torch.randint(100, 256, (10, 1, 8, 8), generator=images, dtype=torch.uint8)}
    sampler = DeviceSampler(sets, batch_size=4, seed=0, hflip=True)
    settings = LoopSettings(iterations=iterations, n_critic=2, checkpoint_every=checkpoint_every, log_every=2)
    return GANLoop(steps or TinySteps(), sampler, settings, accel=Accel.for_device("cpu"), folder=folder,
                   identity=identity, selector=selector, progress=progress)


def weights(loop: GANLoop) -> dict[str, torch.Tensor]:
    return {f"{m}.{k}": v.clone() for m, module in loop.steps.modules.items()
            for k, v in module.state_dict().items()}


def test_one_g_step_per_two_d_steps(tmp_path):
    loop = make_loop(tmp_path, iterations=6)
    loop.run()
    d_steps = {int(s["step"]) for s in loop.steps.optimizers["D"].state.values()}
    g_steps = {int(s["step"]) for s in loop.steps.optimizers["G"].state.values()}
    assert (d_steps, g_steps) == ({6}, {3})


def test_resume_after_interrupt_matches_an_uninterrupted_run(tmp_path):
    straight = make_loop(tmp_path / "straight")
    straight.run()
    with pytest.raises(KeyboardInterrupt):
        make_loop(tmp_path / "cut", progress=InterruptAt(7)).run()
    saved = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=True)
    assert saved["iteration"] == 4  # the last checkpoint before the interrupt
    resumed = make_loop(tmp_path / "cut")
    result = resumed.run()
    assert result.resumed_from == 4 and result.iterations == 12
    expected, got = weights(straight), weights(resumed)
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
    straight_adam = straight.steps.optimizers["D"].state_dict()["state"]
    resumed_adam = resumed.steps.optimizers["D"].state_dict()["state"]
    for index in straight_adam:
        assert torch.equal(straight_adam[index]["exp_avg_sq"], resumed_adam[index]["exp_avg_sq"])


class SignalAt(InterruptAt):
    """Progress whose bar sends this process a real SIGINT or SIGTERM at `iteration` (Ctrl-C, `kill`)."""

    def __init__(self, iteration: int, signum: int) -> None:
        super().__init__(iteration)
        self.signum = signum

    def interrupt(self) -> None:
        os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_between_iterations_saves_there_and_resumes_exactly(tmp_path, signum):
    straight = make_loop(tmp_path / "straight")
    straight.run()
    with pytest.raises(TrainingInterrupted, match="checkpoint at iteration 7 of 12"):
        make_loop(tmp_path / "cut", progress=SignalAt(7, signum)).run()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, "the loop restores the handlers"
    saved = torch.load(tmp_path / "cut" / "checkpoints" / "last.pt", weights_only=True)
    assert saved["iteration"] == 7, "saved where it stopped, not at the last periodic checkpoint"
    resumed = make_loop(tmp_path / "cut")
    assert resumed.run().resumed_from == 7
    expected, got = weights(straight), weights(resumed)
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


def test_loss_csv_reads_as_one_run_after_resume(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        make_loop(tmp_path, progress=InterruptAt(7)).run()
    make_loop(tmp_path).run()
    with open(tmp_path / "losses.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["iteration"]) for r in rows] == [2, 4, 6, 8, 10, 12]
    assert {"D", "G", "gp", "adv", "d_real", "d_fake", "lr_scale"} <= set(rows[0])


def test_a_finished_run_is_not_trained_again(tmp_path):
    first = make_loop(tmp_path)
    first.run()
    again = make_loop(tmp_path)
    result = again.run()
    assert result.resumed_from == 12 and again.steps.d_calls == 0
    assert all(torch.equal(a, b) for a, b in zip(weights(first).values(), weights(again).values(), strict=True))


def test_checkpoints_of_another_configuration_are_refused(tmp_path):
    make_loop(tmp_path, iterations=4).run()
    with pytest.raises(BenchError, match="another configuration"):
        make_loop(tmp_path, identity="other").run()


def test_non_finite_loss_restores_the_last_checkpoint_and_halves_the_lr_once(tmp_path):
    steps = TinySteps(poison={6})
    loop = make_loop(tmp_path, steps=steps)
    result = loop.run()
    assert result.divergences == [6] and result.lr_scale == 0.5
    assert result.iterations == 12
    assert loop.steps.optimizers["G"].param_groups[0]["lr"] == pytest.approx(0.5e-3)
    assert all(torch.isfinite(v).all() for v in weights(loop).values())


def test_a_second_divergence_fails_clearly_and_keeps_the_checkpoints(tmp_path):
    loop = make_loop(tmp_path, steps=TinySteps(poison_from=6))
    with pytest.raises(DivergenceError, match="non-finite losses again.*halved"):
        loop.run()
    saved = torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)
    assert saved["iteration"] == 4 and saved["divergences"] == []


class ScriptedSelector:
    """Returns the given values in turn (a stand-in policy that makes the loop's choice easy to check)."""

    name = "scripted"
    higher_is_better = True

    def __init__(self, values):
        self.values = list(values)

    def evaluate(self):
        return self.values.pop(0)


def test_selection_keeps_the_best_checkpoint(tmp_path):
    snapshots = {}

    class Recording(ScriptedSelector):
        def evaluate(self):
            snapshots[len(snapshots)] = {k: v.clone() for k, v in loop.steps.G.state_dict().items()}
            return super().evaluate()

    loop = make_loop(tmp_path, selector=Recording([0.5, 0.9, 0.7]))
    result = loop.run()
    assert result.selection["best_iteration"] == 8 and result.selection["best_value"] == 0.9
    for key, value in loop.steps.G.state_dict().items():
        assert torch.equal(value, snapshots[1][key])


def test_checkpoint_observers_see_every_checkpoint_and_leave_training_unchanged(tmp_path):
    """observe_checkpoints (benchmarks.gpu_check's learning curves): the observer runs at iterations 4, 8, 12 with
    the modules in eval mode, draws random numbers and scores G, and the weights end bit-identical to a run without
    it; outside the block no observer runs."""
    from bench.methods._gan.loop import observe_checkpoints

    seen = []

    def observer(loop: GANLoop) -> None:
        torch.rand(100)  # would shift the training's random stream if the loop did not preserve it
        seen.append((loop.iteration, loop.steps.G.training, float(loop.steps.G(torch.zeros(1, 1, 8, 8)).sum())))

    plain = make_loop(tmp_path / "plain")
    plain.run()
    with observe_checkpoints(observer):
        observed = make_loop(tmp_path / "observed")
        observed.run()
    assert [(i, training) for i, training, _ in seen] == [(4, False), (8, False), (12, False)]
    assert all(torch.equal(a, b) for a, b in zip(weights(plain).values(), weights(observed).values(), strict=True))
    make_loop(tmp_path / "after").run()
    assert len(seen) == 3
