"""How close to the hardware each method's training step runs: the model FLOPs of one training step, counted with
`torch.utils.flop_counter.FlopCounterMode` (forward and backward of every network the step runs: matrix
multiplications and convolutions, as the counter counts; element-wise work is not counted), the step's time
(synchronised on CUDA, warm-up excluded), the achieved FLOP/s and its fraction of the GPU's dense bf16 peak (MFU).

The steps are the methods' own, built by the other benchmarks: the GANs' shared-loop unit (n_critic D steps and
one G step, `benchmarks.gan_step.loop_unit` on each method's `GANRecipe`), DDAD's autoencoder and ASR-Net steps
(`benchmarks.ddad_step.step_calls`) and the self-supervised family's ResNet-18 encoder-decoder step
(`benchmarks.synthetic_anomaly.build_step`), each with the runs' `accel=auto` (bf16 autocast, channels_last and,
unless turned off, torch.compile on CUDA; plain fp32 eager on CPU). The counter cannot see inside compiled graphs,
so with compile the FLOPs are counted on an eager twin of the same step (same networks, sizes and batch).

`python -m benchmarks.flops [--device cuda] [--small]` prints the table; `make gpu-check` records it (part 8).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

# Dense (no sparsity) bf16 tensor-core peaks in TFLOP/s, searched in order (whole words) in
# torch.cuda.get_device_name(), so more specific names come first. Sources: NVIDIA H100 Tensor Core GPU Architecture
# whitepaper (H100 SXM5 989.4, H100 PCIe 756.4 BF16 TFLOPS dense; the "with sparsity" figures are twice these);
# NVIDIA H100 datasheet (H100 NVL 1,671 with sparsity); NVIDIA H200 datasheet (H200 SXM 1,979, H200 NVL 1,671 with
# sparsity: the H100's tensor cores); NVIDIA A100 datasheet (312 BF16, SXM and PCIe); NVIDIA L4 datasheet (242 with
# sparsity); NVIDIA Ada GPU Architecture whitepaper, appendix table (GeForce RTX 4090: peak BF16 tensor TFLOPS with
# FP32 accumulate 165.2 dense, 330.4 sparse).
PEAK_BF16_TFLOPS: tuple[tuple[str, float], ...] = (
    ("H100 PCIe", 756.4), ("H100 NVL", 835.5), ("H100", 989.4),
    ("H200 NVL", 835.5), ("H200", 989.4),
    ("A100", 312.0), ("L4", 121.0), ("RTX 4090", 165.2),
)
PEAK_ENV = "BENCH_PEAK_TFLOPS"  # overrides the table (a GPU it lacks, or another precision's peak)

# (px, batch) of one step at paper size: the GANs' paper settings (HealthyGAN's and Brainomaly's papers train at
# 128 and 192 px, batch 16; SAGAN 64 px, batch 64) and the normals-only GANs' official defaults (presets `paper`).
PAPER_STEP = {"healthygan": (128, 16), "sagan": (64, 64), "brainomaly": (192, 16), "fanogan": (64, 64),
              "alocc": (64, 128), "alad": (64, 32)}
# --small: each method's `tiny` networks at these sizes (seconds on a CPU).
SMALL_STEP = {"healthygan": (16, 4), "sagan": (32, 4), "brainomaly": (16, 4), "fanogan": (16, 4),
              "alocc": (16, 4), "alad": (32, 4)}
SSL_STEP = {"paper": (224, 64), "small": (32, 4)}  # ResNet-18 encoder-decoder (official 224 px, batch 64)
SKIPPED = {
    "pca": "no training step (a closed-form fit)",
    "padim": "no training step (Gaussian statistics of frozen backbone features)",
    "patchcore": "no training step (memory bank and coreset of frozen backbone features)",
    "ganomaly": "anomalib's Lightning training step: not built outside its Trainer here",
}


@dataclasses.dataclass
class StepCall:
    """One training step: `run()` as the runs execute it (timed) and `counted()`, the same step in eager mode
    (FLOPs counted; the same callable when nothing is compiled)."""

    setting: str
    step: str  # what one call is, e.g. "2 iterations (2 D steps + 1 G step)"
    run: Callable[[], Any]
    counted: Callable[[], Any]


def peak_tflops(device: torch.device) -> tuple[float | None, str]:
    """(dense bf16 peak in TFLOP/s or None, where it came from)."""
    if os.environ.get(PEAK_ENV):
        return float(os.environ[PEAK_ENV]), PEAK_ENV
    if device.type != "cuda":
        return None, f"no peak known ({device.type})"
    name = torch.cuda.get_device_name(device)
    return lookup_peak(name)


def lookup_peak(name: str) -> tuple[float | None, str]:
    """The table's peak for a CUDA device name, or None with what to set."""
    for key, value in PEAK_BF16_TFLOPS:
        if re.search(rf"\b{re.escape(key)}\b", name, flags=re.IGNORECASE):
            return value, f"{name}: {key} dense bf16"
    return None, f"no peak known for {name}; set {PEAK_ENV}"


class _GlobalOnly:
    """Stands in for FlopCounterMode's per-module tracker: every count goes to the total ("Global") only. The tracker
    hooks every module's backward, and those hooks fail inside torch.autograd.grad ("A leaf node was passed to
    _will_engine_execute_node ..."), which the WGAN-GP critics' gradient penalty runs."""

    parents = frozenset({"Global"})

    def __enter__(self) -> _GlobalOnly:
        return self

    def __exit__(self, *args: object) -> None:
        return None


def count_flops(fn: Callable[[], Any]) -> int:
    """Model FLOPs of one call of `fn` (the forward and backward passes it runs, double backward included), by
    FlopCounterMode's formulas (matrix multiplications, convolutions, attention)."""
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _GlobalOnly()  # type: ignore[assignment]
    with counter:
        fn()
    return int(counter.get_total_flops())


def measure(call: StepCall, device: torch.device, units: int, warmup: int,
            peak: float | None) -> dict[str, Any]:
    """FLOPs per step, seconds per step, achieved TFLOP/s and MFU (None without a peak)."""
    from benchmarks.gan_step import time_calls

    flops = count_flops(call.counted)
    seconds = time_calls(call.run, units, warmup, device)
    achieved = flops / seconds / 1e12
    return {"setting": call.setting, "step": call.step, "flops_per_step": flops, "gflops_per_step": flops / 1e9,
            "step_s": seconds, "achieved_tflops": achieved, "mfu": achieved / peak if peak else None}


def gan_step(name: str, device: torch.device, *, small: bool, compile: bool) -> StepCall:
    """The method's shared-loop unit at paper size (its `tiny` networks at SMALL_STEP when `small`)."""
    from bench.core import registry
    from benchmarks.gan_step import BenchArgs, loop_unit

    cls = registry.get_method(name)
    size, batch = (SMALL_STEP if small else PAPER_STEP)[name]
    recipe = cls.recipe

    def build(compiled: bool) -> Callable[[], None]:
        config = dataclasses.replace(cls.presets["tiny" if small else "paper"], image_size=size, batch_size=batch,
                                     accel="auto", compile=compiled)
        args = BenchArgs(device=device, preset="", size=size, batch_size=batch, units=1, warmup=0)
        torch.manual_seed(0)
        generator, critic = recipe.build_networks(config, size)
        return loop_unit(args, config, generator, critic, recipe.make_steps, recipe.set_keys).run

    config = cls.presets["tiny" if small else "paper"]
    run = build(compile)
    counted = build(False) if compile and device.type == "cuda" else run
    n_critic, g_updates = config.n_critic, getattr(config, "g_updates", 1)  # ALOCC: 2 R updates per D update
    step = f"{n_critic} iteration{'s' if n_critic > 1 else ''} ({n_critic} D + {g_updates} G step" + \
        ("s)" if g_updates > 1 else ")")
    if name == "fanogan":
        step += ", stage 1 (WGAN-GP); the encoder stage is not counted"
    channels = getattr(config, "channels", 1)
    return StepCall(f"{'tiny' if small else 'paper'} nets, {size} px x{channels}, batch {batch}", step, run, counted)


def ddad_steps(device: torch.device, *, small: bool, compile: bool) -> dict[str, StepCall]:
    """DDAD's autoencoder step and ASR-Net step (with the 2K frozen autoencoders' forward passes)."""
    from bench.methods._gan.accel import Accel
    from bench.methods.ddad.presets import PRESETS
    from benchmarks.ddad_step import SMOKE, step_calls

    config = dataclasses.replace(PRESETS["tiny"], **SMOKE) if small else PRESETS["paper"]
    run = step_calls(Accel.for_device(device, compile=compile, mode="auto"), config)
    counted = (step_calls(Accel.for_device(device, compile=False, mode="auto"), config)
               if compile and device.type == "cuda" else run)
    setting = f"{config.image_size} px, K={config.n_networks}"
    return {"ddad_ae": StepCall(f"{setting}, batch {config.batch_size}", "one autoencoder step", run["ae"],
                                counted["ae"]),
            "ddad_asr": StepCall(f"{setting}, batch {config.asr_batch_size}", "one ASR-Net step (frozen AEs' "
                                 "forward passes included)", run["asr"], counted["asr"])}


def ssl_step(device: torch.device, *, small: bool, compile: bool) -> StepCall:
    """The self-supervised family's (CutPaste, FPI, PII, NSA) ResNet-18 encoder-decoder step; synthesis excluded."""
    from benchmarks.synthetic_anomaly import build_step

    size, batch = SSL_STEP["small" if small else "paper"]
    run = build_step(device, size, batch, "auto", compile)
    counted = build_step(device, size, batch, "auto", False) if compile and device.type == "cuda" else run
    return StepCall(f"ResNet-18 enc-dec, {size} px, batch {batch}", "one step (synthesis not included)", run, counted)


GANS = ("healthygan", "sagan", "brainomaly", "fanogan", "alocc", "alad")


def step_calls(device: torch.device, *, small: bool, compile: bool) -> dict[str, Callable[[], StepCall]]:
    """Builders of every counted step by row name (built one at a time, so only one method's networks live)."""
    calls: dict[str, Callable[[], StepCall]] = {
        name: (lambda name=name: gan_step(name, device, small=small, compile=compile)) for name in GANS}
    for row in ("ddad_ae", "ddad_asr"):
        calls[row] = lambda row=row: ddad_steps(device, small=small, compile=compile)[row]
    calls["synthetic_anomaly"] = lambda: ssl_step(device, small=small, compile=compile)
    return calls


def measure_row(build: Callable[[], StepCall], device: torch.device, units: int, warmup: int,
                peak: float | None) -> dict[str, Any]:
    """Build one step, measure it, and free its networks."""
    row = measure(build(), device, units, warmup, peak)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def flops_table(device: torch.device, *, small: bool, compile: bool, units: int, warmup: int,
                only: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Every row {name: measure(...)}, the peak and the methods not counted."""
    peak, source = peak_tflops(device)
    rows = {name: measure_row(build, device, units, warmup, peak)
            for name, build in step_calls(device, small=small, compile=compile).items() if not only or name in only}
    return {"peak_tflops": peak, "peak_source": source, "rows": rows, "skipped": dict(SKIPPED)}


def markdown(table: dict[str, Any]) -> list[str]:
    """The FLOPs/MFU table's Markdown lines."""
    peak = table.get("peak_tflops")
    lines = [f"Model FLOPs of one training step (FlopCounterMode) and MFU against {peak} TFLOP/s dense bf16 "
             f"({table.get('peak_source')})." if peak else
             f"Model FLOPs of one training step (FlopCounterMode); {table.get('peak_source')}: FLOP/s only.",
             "", "| method | setting | step | GFLOP/step | step ms | achieved TFLOP/s | MFU |",
             "|---|---|---|---:|---:|---:|---:|"]
    for name, row in table.get("rows", {}).items():
        if "error" in row:
            lines.append(f"| {name} | failed: {row['error']} | | | | | |")
            continue
        mfu = "-" if row["mfu"] is None else f"{100 * row['mfu']:.1f} %"
        lines.append(f"| {name} | {row['setting']} | {row['step']} | {row['gflops_per_step']:.2f} | "
                     f"{1000 * row['step_s']:.1f} | {row['achieved_tflops']:.3g} | {mfu} |")
    skipped = table.get("skipped", {})
    if skipped:
        lines += ["", "Not counted: " + "; ".join(f"{name} ({why})" for name, why in skipped.items()) + "."]
    return lines


def main(argv: list[str] | None = None) -> int:
    from bench.core.device import resolve_device

    parser = argparse.ArgumentParser(prog="python -m benchmarks.flops", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--small", action="store_true", help="tiny networks at small sizes (seconds on a CPU)")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--methods", default="", help="comma-separated rows to run (default: all)")
    parser.add_argument("--units", type=int, default=None, help="timed steps per row (default 10 on CUDA, 2 else)")
    parser.add_argument("--json", action="store_true", help="print the JSON instead of the Markdown table")
    options = parser.parse_args(argv)
    device = resolve_device(options.device)
    cuda = device.type == "cuda"
    units = options.units or (10 if cuda else 2)
    table = flops_table(device, small=options.small, compile=cuda and not options.no_compile, units=units,
                        warmup=3 if cuda else 1, only=tuple(filter(None, options.methods.split(","))) or None)
    print(json.dumps(table, indent=2) if options.json else "\n".join(markdown(table)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
