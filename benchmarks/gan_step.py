"""GAN training-step benchmark: our step (the shared loop's `train_step`: batched passes, critic frozen in the
G step, reused generator pass, bf16 autocast / channels_last / compile on CUDA) against a plain fp32 eager
reference step of the same networks and losses, same initial weights, same batch, same process.

One timed unit = `n_critic` iterations (n_critic D steps + one G step). Add a method with `@case("name")`:
a function (args) -> StepCase whose `ours` and `reference` each run one unit.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

CASES: dict[str, Callable[[BenchArgs], StepCase]] = {}


@dataclasses.dataclass(frozen=True)
class BenchArgs:
    device: torch.device
    preset: str
    size: int
    batch_size: int
    units: int  # timed units per side
    warmup: int
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # config fields for our side, e.g. accel


@dataclasses.dataclass
class StepCase:
    """`ours()` and `reference()` each run `iterations` training iterations on the same batch."""

    description: str
    iterations: int
    ours: Callable[[], None]
    reference: Callable[[], None]
    notes: str = ""
    accel: Mapping[str, object] = dataclasses.field(default_factory=dict)  # what our side ran (Accel.info())


def case(name: str) -> Callable[[Callable[[BenchArgs], StepCase]], Callable[[BenchArgs], StepCase]]:
    """Register a benchmark case under `name`."""

    def register(build: Callable[[BenchArgs], StepCase]) -> Callable[[BenchArgs], StepCase]:
        CASES[name] = build
        return build

    return register


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], None], units: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of `fn` after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(units):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / units


def run_case(name: str, args: BenchArgs) -> dict[str, object]:
    """Build and time one case: iterations/s of ours and of the reference, and their ratio."""
    built = CASES[name](args)
    ours = time_calls(built.ours, args.units, args.warmup, args.device)
    reference = time_calls(built.reference, args.units, args.warmup, args.device)
    return {"benchmark": f"{name} train step", "setting": built.description,
            "ours_it_s": built.iterations / ours, "reference_it_s": built.iterations / reference,
            "ratio": reference / ours, "notes": built.notes}


@dataclasses.dataclass
class Sides:
    """Both sides of one case: our loop step and the reference's copies of the same initial networks."""

    ours: Callable[[], None]
    batch: dict[str, torch.Tensor]
    sampler: Any  # the DeviceSampler that drew `batch`
    ref_g: torch.nn.Module
    ref_d: torch.nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    accel: Mapping[str, object]


def build_sides(args: BenchArgs, config: Any,
                build_networks: Callable[[Any, int], tuple[torch.nn.Module, torch.nn.Module]],
                steps_class: Callable[..., Any], keys: tuple[str, str]) -> Sides:
    """Networks from `build_networks`, our `GANLoop` step with `steps_class`, fp32 eager copies with their own
    Adam optimisers, and one batch of random uint8 images under `keys` (mixed/unlabeled, healthy/normal)."""
    torch.manual_seed(0)
    generator, critic = build_networks(config, args.size)
    ref_g, ref_d = copy.deepcopy(generator).to(args.device).train(), copy.deepcopy(critic).to(args.device).train()
    unit = loop_unit(args, config, generator, critic, steps_class, keys)
    betas = (config.beta1, config.beta2)
    return Sides(unit.run, unit.batch, unit.sampler, ref_g, ref_d,
                 torch.optim.Adam(ref_g.parameters(), lr=config.g_lr, betas=betas),
                 torch.optim.Adam(ref_d.parameters(), lr=config.d_lr, betas=betas), unit.accel.info())


@dataclasses.dataclass
class LoopUnit:
    """`run()`: one unit of the shared loop's real step (n_critic iterations: n_critic D steps and one G step) on
    one fixed batch (`batch`: as drawn, uint8 converted to [-1, 1]; the unit reads it after `accel.images`)."""

    run: Callable[[], None]
    batch: dict[str, torch.Tensor]
    sampler: Any  # the DeviceSampler that drew `batch`
    accel: Any  # the Accel the networks were prepared with


def loop_unit(args: BenchArgs, config: Any, generator: torch.nn.Module, critic: torch.nn.Module,
              steps_class: Callable[..., Any], keys: tuple[str, str]) -> LoopUnit:
    """The networks prepared by the config's accel (bf16 / channels_last / compile as `config` says), the method's
    steps `steps_class(G, D, config, accel, sampler)` in a `GANLoop`, and one batch of random uint8 images under
    `keys` (unlabeled/mixed, healthy/normal: two disjoint halves of 4 x batch images)."""
    from bench.methods._gan import Accel, DeviceSampler, GANLoop, LoopSettings

    device = args.device
    accel = Accel.for_device(device, amp=config.amp, channels_last=config.channels_last, compile=config.compile,
                             mode=config.accel)
    for module in (generator, critic):
        accel.prepare(module).train()
    images = torch.randint(0, 256, (4 * args.batch_size, config.channels, args.size, args.size),
                           dtype=torch.uint8, device=device)
    sampler = DeviceSampler({keys[0]: images[: 2 * args.batch_size], keys[1]: images[2 * args.batch_size:]},
                            args.batch_size, seed=0, channels=config.channels)
    steps = steps_class(generator, critic, config, accel, sampler)
    batch = sampler.sample()
    loop = GANLoop(steps, sampler, LoopSettings(iterations=10**9, n_critic=config.n_critic), accel=accel,
                   folder=None, identity="bench")
    our_batch = {k: accel.images(v) for k, v in batch.items()}

    def run() -> None:
        for _ in range(config.n_critic):
            loop.train_step(our_batch)

    return LoopUnit(run, batch, sampler, accel)


def reference_critic_step(sides: Sides, real: torch.Tensor, fake: torch.Tensor, lambda_gp: float) -> None:
    """One plain WGAN-GP critic step: separate passes on real, fake and the interpolates."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    mixed_in = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    (grad,) = torch.autograd.grad(sides.ref_d(mixed_in).sum(), mixed_in, create_graph=True)
    gp = ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()
    loss_d = sides.ref_d(fake).mean() - sides.ref_d(real).mean() + lambda_gp * gp
    sides.opt_d.zero_grad()
    loss_d.backward()
    sides.opt_d.step()


def reference_generator_step(sides: Sides, loss_g: torch.Tensor) -> None:
    sides.opt_g.zero_grad()
    loss_g.backward()
    sides.opt_g.step()


@case("healthygan")
def healthygan_case(args: BenchArgs) -> StepCase:
    """HealthyGAN: our loop step vs StarGAN-style separate passes in fp32 eager."""
    from bench.methods.healthygan.losses import compose, focus_loss, l1, mask_inverse
    from bench.methods.healthygan.presets import PRESETS
    from bench.methods.healthygan.trainer import HealthyGANSteps, build_networks

    config = dataclasses.replace(PRESETS[args.preset], image_size=args.size, batch_size=args.batch_size,
                                 **args.overrides)
    sides = build_sides(args, config, build_networks, HealthyGANSteps, ("A", "B"))
    ref_g, ref_d = sides.ref_g, sides.ref_d
    mixed, healthy = sides.batch["A"], sides.batch["B"]

    def reference() -> None:
        for _ in range(config.n_critic):
            with torch.no_grad():
                image, mask = ref_g(mixed)
                fake = compose(mixed, image, mask)
            reference_critic_step(sides, healthy, fake, config.lambda_gp)
        image_a, mask_a = ref_g(mixed)
        image_b, mask_b = ref_g(healthy)
        reference_generator_step(sides, (
            -ref_d(compose(mixed, image_a, mask_a)).mean() - ref_d(compose(healthy, image_b, mask_b)).mean()
            + config.lambda_id * l1(healthy, image_b)
            + config.lambda_rec * l1(mixed, mask_inverse(mixed, image_a, mask_a))
            + config.lambda_mask * (0.5 * focus_loss(mask_a) + 0.5 * focus_loss(mask_b))))

    description = (f"{args.preset} nets (G {config.g_conv_dim}/{config.g_res_blocks} res, D {config.d_conv_dim}), "
                   f"{args.size}px x{config.channels}, batch {args.batch_size}, {args.device.type}")
    return StepCase(description, config.n_critic, sides.ours, reference, notes=str(sides.accel), accel=sides.accel)


@case("sagan")
def sagan_case(args: BenchArgs) -> StepCase:
    """SAGAN: our loop step (G on x_u, x_n, x_p in one pass, reused by the G step; D on real and fake in one
    pass) vs separate passes in fp32 eager."""
    from bench.methods._gan import to_unit_range
    from bench.methods.sagan.losses import generator_loss
    from bench.methods.sagan.presets import PRESETS
    from bench.methods.sagan.pseudo_anomaly import make_pseudo_anomalies, other_indices
    from bench.methods.sagan.trainer import NORMAL, UNLABELED, SAGANSteps, build_networks

    config = dataclasses.replace(PRESETS[args.preset], image_size=args.size, batch_size=args.batch_size,
                                 **args.overrides)
    sides = build_sides(args, config, build_networks, SAGANSteps, (UNLABELED, NORMAL))
    ref_g, ref_d = sides.ref_g, sides.ref_d
    unlabeled, normal = sides.batch[UNLABELED], sides.batch[NORMAL]

    def reference() -> None:
        for _ in range(config.n_critic):
            with torch.no_grad():
                fake = ref_g(unlabeled)
            reference_critic_step(sides, normal, fake, config.lambda_gp)
        pseudo = None
        if config.pseudo_anomalies:  # sources: other images of the whole normal set, as in our step
            pool = sides.sampler.sets[NORMAL]
            index = other_indices(sides.sampler.last_indices[NORMAL], len(pool), sides.sampler.generator)
            pseudo = make_pseudo_anomalies(normal, sources=to_unit_range(pool[index], config.channels)).images
        restored_pseudo = ref_g(pseudo) if pseudo is not None else None
        loss_g, _ = generator_loss(ref_d(ref_g(unlabeled)), ref_g(normal), normal, restored_pseudo,
                                   config.lambda_id, config.lambda_rec)
        reference_generator_step(sides, loss_g)

    description = (f"{args.preset} nets (G {config.g_conv_dim}/{config.g_res_blocks} res, N={config.n_patches}, "
                   f"D {config.d_conv_dim}), {args.size}px x{config.channels}, batch {args.batch_size}, "
                   f"{args.device.type}")
    return StepCase(description, config.n_critic, sides.ours, reference, notes=str(sides.accel), accel=sides.accel)


@case("brainomaly")
def brainomaly_case(args: BenchArgs) -> StepCase:
    """Brainomaly: our loop step (G on A and B in one pass, reused by the G step; D on real and fake in one pass)
    vs the authors' separate passes in fp32 eager."""
    from bench.methods.brainomaly.presets import PRESETS
    from bench.methods.brainomaly.trainer import HEALTHY, MIXED, BrainomalySteps, build_networks

    config = dataclasses.replace(PRESETS[args.preset], image_size=args.size, batch_size=args.batch_size,
                                 **args.overrides)
    sides = build_sides(args, config, build_networks, BrainomalySteps, (MIXED, HEALTHY))
    ref_g, ref_d = sides.ref_g, sides.ref_d
    mixed, healthy = sides.batch[MIXED], sides.batch[HEALTHY]

    def reference() -> None:
        for _ in range(config.n_critic):
            with torch.no_grad():
                fake = torch.tanh(mixed + ref_g(mixed))
            reference_critic_step(sides, healthy, fake, config.lambda_gp)
        adversarial = -ref_d(torch.tanh(mixed + ref_g(mixed))).mean()
        identity = (healthy - torch.tanh(healthy + ref_g(healthy))).abs().mean()
        reference_generator_step(sides, adversarial + config.lambda_id * identity)

    description = (f"{args.preset} nets (G {config.g_conv_dim}/{config.g_res_blocks} res, D {config.d_conv_dim}), "
                   f"{args.size}px x{config.channels}, batch {args.batch_size}, {args.device.type}")
    return StepCase(description, config.n_critic, sides.ours, reference, notes=str(sides.accel), accel=sides.accel)
