"""`make gpu-check` (`python -m benchmarks.gpu_check`): one script for the first machine with a GPU, meant to finish in
under 8 minutes there. Writes `results/gpu-check.json` and a short Markdown summary beside it.

1. Training-step throughput of the GANs at paper size (HealthyGAN: G 8.4M + D, batch 16, 128 px; SAGAN: G 44.8M
   + D, batch 64, 64 px; Brainomaly: G 8.4M + D 44.7M, 3 channels, batch 16, 192 px):
   our step (bf16 autocast + channels_last + torch.compile of G, `accel=on`) against a plain
   fp32 eager step of the same networks in the same process (benchmarks.gan_step), as a ratio, with the peak GPU
   memory of each side.
2. `--preset fast` of HealthyGAN, SAGAN and Brainomaly on the synthetic set through the real runner: test AUC and
   wall time (iterations capped to a time budget where the dry-run probe says the preset would not fit; the JSON
   says so), and a learning curve: the validation AUC at 5 checkpoints of the run (benchmarks.learning_curve;
   checkpoint_every set to a fifth of the run's iterations; scoring the 400 validation images takes seconds).
3. PaDiM, PatchCore and GANomaly `fast` on the synthetic set with `pretrained=false` (nothing downloaded).
4. DDAD's autoencoder and ASR-Net steps at paper size (64 px, batch 64 / 8; benchmarks.ddad_step): ours against
   fp32 eager, as for the GANs (the ASR ratio in the JSON).
5. Score agreement of one trained detector (the HealthyGAN of part 2) scored in bf16 against fp32.
6. f-AnoGAN, ALOCC and ALAD `fast` on the synthetic set through the real runner on the accel path (bf16 autocast,
   channels_last): test AUC, wall time, what run.json records (iterations capped to a time budget as in part 2),
   and the learning curve as in part 2 (f-AnoGAN: its encoder stage; ALAD: evaluate_every set to a fifth).
7. The self-supervised family (benchmarks.synthetic_anomaly): synthetic batches/s of the four tasks (inline and on 8
   threads) against the ResNet-18 encoder-decoder's training steps/s at 224 px, batch 64; and NSA `fast` (20 epochs)
   on the synthetic set through the real runner.
8. How close to the hardware each method's training step runs (benchmarks.flops): the model FLOPs of one step at
   paper size (FlopCounterMode), the step's time with `accel=auto` (compiled unless --no-compile; FLOPs counted on
   an eager twin), achieved TFLOP/s and MFU against the GPU's dense bf16 peak (a table by device name, or
   $BENCH_PEAK_TFLOPS). Expected 2-3 minutes on an H100 (not yet timed), most of it torch.compile of the three
   normals-only GANs' generators (the other steps' graphs are compiled by parts 1, 4 and 7 already).

`--cpu-smoke` runs every part for a few steps with tiny networks on CPU (the test suite runs it), writing
`gpu-check-cpu-smoke.json` / `.md` instead. A part that fails is recorded with its error; the script then exits 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks import flops, learning_curve

GANS = ("healthygan", "sagan", "brainomaly")
BASELINES: dict[str, dict[str, str]] = {"padim": {"pretrained": "false"}, "patchcore": {"pretrained": "false"},
                                        "ganomaly": {}}
OURS: dict[str, Any] = {"accel": "on", "amp": True, "channels_last": True, "compile": True}
PAPER_STEP = {"healthygan": (128, 16), "sagan": (64, 64), "brainomaly": (192, 16)}  # (px, batch) at paper size
FAST_RUN_BUDGET_S = 100.0  # per GAN in part 2, compile included
COMPILE_ALLOWANCE_S = 45.0  # of that budget, set aside for inductor
# --cpu-smoke: the tiny networks of tests/methods/test_gan_accel.py (same compiled graphs), a few steps each.
SMOKE_NETS: dict[str, Any] = {"g_conv_dim": 4, "g_res_blocks": 1, "d_conv_dim": 4}
SMOKE_STEP = {"healthygan": (16, 4), "sagan": (32, 4), "brainomaly": (16, 4)}
SMOKE_RUN = {"healthygan": {"image_size": "16"}, "sagan": {"image_size": "32"}, "brainomaly": {"image_size": "16"}}
SSL_FAST = {"epochs": "20"}  # part 7's NSA run: the fast preset's 64 px and 8 threads, fewer epochs
SSL_SMOKE = {"image_size": "32", "epochs": "1", "batch_size": "4", "workers": "2"}
NORMAL_GANS = ("fanogan", "alocc", "alad")  # part 6: trained on normals only
NORMAL_GAN_BUDGET_S = 60.0  # per method in part 6
# --cpu-smoke: tiny networks, 4-5 iterations (f-AnoGAN: one G step), `accel=on` (bf16 autocast and channels_last
# on CPU; no compile: part 1 compiles already, and inductor on a cold cache costs minutes).
SMOKE_NORMAL_GANS: dict[str, dict[str, str]] = {
    "fanogan": {"image_size": "16", "dim": "4", "latent_dim": "8", "batch_size": "4", "iterations": "5",
                "encoder_iterations": "2", "checkpoint_every": "2", "log_every": "2"},
    "alocc": {"image_size": "16", "batch_size": "4", "iterations": "4", "checkpoint_every": "2", "log_every": "2"},
    "alad": {"image_size": "32", "width_div": "16", "latent_dim": "8", "batch_size": "4", "iterations": "4",
             "evaluate_every": "2", "log_every": "2"},
}
SMOKE_DATA = {"n_normal": 24, "unlabeled_size": 16, "n_val": 4, "n_test": 8, "generate_size": 64}


@dataclasses.dataclass
class Check:
    device: torch.device
    smoke: bool
    runs: Path
    compile: bool = True  # part 1's step with torch.compile of G
    run_budget_s: float = FAST_RUN_BUDGET_S  # per GAN in part 2, compile included
    prepared: Any = None
    agreement_folder: Path | None = None  # the trained detector that part 5 scores
    peak_tflops: float | None = None  # part 8's MFU denominator


def step_throughput(check: Check, name: str) -> dict[str, Any]:
    """Our step vs plain fp32 eager of the same networks, same batch, same process; peak memory per side."""
    from bench.core.cost import peak_memory
    from benchmarks.gan_step import CASES, BenchArgs, time_calls

    size, batch = (SMOKE_STEP if check.smoke else PAPER_STEP)[name]
    overrides = {**OURS, "compile": check.compile, **(SMOKE_NETS if check.smoke else {})}
    args = BenchArgs(device=check.device, preset="smoke" if check.smoke else "paper", size=size, batch_size=batch,
                     units=1 if check.smoke else 20, warmup=1 if check.smoke else 3, overrides=overrides)
    built = CASES[name](args)
    sides = {}
    for side, fn in (("ours", built.ours), ("reference", built.reference)):
        with peak_memory(check.device) as peak:
            seconds = time_calls(fn, args.units, args.warmup, check.device)
        sides[side] = {"it_s": built.iterations / seconds, "peak_memory_mb": peak.mb}
    return {"setting": built.description, "ours": sides["ours"], "reference": sides["reference"],
            "ratio": sides["ours"]["it_s"] / sides["reference"]["it_s"], "ours_accel": dict(built.accel)}


def prepare_data(check: Check) -> Any:
    from bench.testing import synthetic_data

    if check.prepared is None:
        options = SMOKE_DATA if check.smoke else {}
        check.prepared = synthetic_data(check.runs / "data", options)
    return check.prepared


def run_preset(check: Check, name: str, overrides: Mapping[str, str]) -> dict[str, Any]:
    """One `fast` run through the runner (the real run path): test AUC, fit and wall time, the folder."""
    from bench.runs.execute import execute
    from bench.runs.plan import plan

    prepared = prepare_data(check)
    (spec,) = plan([name], "synthetic", [0], "fast", dict(overrides))
    start = time.perf_counter()
    outcome = execute(spec, prepared, check.runs / "runs", device=str(check.device))
    wall = time.perf_counter() - start
    if outcome.status != "complete":
        raise RuntimeError(f"{name} fast run {outcome.status}: {outcome.error}")
    record = json.loads((outcome.folder / "run.json").read_text())
    return {"auc": outcome.metrics["auc"], "wall_s": wall, "fit_s": record.get("timings", {}).get("fit_s"),
            "overrides": dict(overrides), "folder": str(outcome.folder),
            "accel": (record.get("method_info", {}).get("training") or {}).get("accel")}


def run_with_curve(check: Check, name: str, overrides: Mapping[str, str]) -> dict[str, Any]:
    """`run_preset` with a checkpoint every fifth of the run, the validation AUC recorded at each ("curve")."""
    from bench.core import registry
    from bench.methods._gan.loop import observe_checkpoints

    cls = registry.get_method(name)
    every = learning_curve.interval_overrides(name, cls.preset("fast", dict(overrides), dataset="synthetic"))
    overrides = {**overrides, **every}
    config = cls.preset("fast", overrides, dataset="synthetic")
    curve = learning_curve.ValidationCurve(name, config, prepare_data(check).split("val"), check.device)
    with observe_checkpoints(curve):
        result = run_preset(check, name, overrides)
    return {**result, "curve": curve.points}


def flops_step(check: Check, name: str, build: Callable[[], Any]) -> dict[str, Any]:
    """Part 8: one method's step (benchmarks.flops), at paper size on a GPU, tiny networks with --cpu-smoke."""
    units, warmup = (1, 1) if check.smoke else (10, 3)
    return flops.measure_row(build, check.device, units, warmup, check.peak_tflops)


def fast_gan_run(check: Check, name: str) -> dict[str, Any]:
    """The GAN's `fast` preset, its iterations capped where the dry-run probe says they exceed the budget."""
    from bench.core import registry
    from bench.core.cost import DataShape

    cls = registry.get_method(name)
    overrides: dict[str, str] = {}
    note = "preset iterations"
    if check.smoke:
        overrides = {**{k: str(v) for k, v in SMOKE_NETS.items()}, **SMOKE_RUN[name], "batch_size": "4",
                     "iterations": "4", "checkpoint_every": "2", "log_every": "2"}
        note = "smoke: 4 iterations"
    else:
        config = cls.preset("fast", dataset="synthetic")
        prepared = prepare_data(check)
        shape = DataShape("synthetic", prepared.size, prepared.channels,
                          {split: sum(labels.values()) for split, labels in prepared.counts().items()})
        seconds = cls.cost_probe(config, shape, check.device).seconds_per_step or 0.0
        fits = int((check.run_budget_s - COMPILE_ALLOWANCE_S) / seconds) if seconds > 0 else config.iterations
        if fits < config.iterations:
            overrides["iterations"] = str(max(fits, config.n_critic))
            note = f"capped to {overrides['iterations']} of {config.iterations} iterations (budget)"
    result = {**run_with_curve(check, name, overrides), "iterations": note}
    folder = Path(result.pop("folder"))  # a temporary folder, gone when the check ends
    if name == "healthygan":
        check.agreement_folder = folder
    return result


def baseline_run(check: Check, name: str) -> dict[str, Any]:
    overrides = dict(BASELINES[name])
    if check.smoke:
        overrides.update(image_size="32", epochs="1")
    result = run_preset(check, name, overrides)
    result.pop("folder")
    return result


def normal_gan_run(check: Check, name: str) -> dict[str, Any]:
    """Part 5: the method's `fast` preset through the runner with `accel=on`; on a GPU its step counts are scaled to
    NORMAL_GAN_BUDGET_S by the dry-run probe (f-AnoGAN: both stages by the same factor)."""
    import dataclasses

    from bench.core import registry
    from bench.core.cost import DataShape

    overrides: dict[str, str] = {"accel": "on", "compile": "false"}
    note = "preset iterations"
    if check.smoke:
        overrides.update(SMOKE_NORMAL_GANS[name])
        note = "smoke: 4 iterations"
    else:
        cls = registry.get_method(name)
        config = cls.preset("fast", dataset="synthetic")
        prepared = prepare_data(check)
        shape = DataShape("synthetic", prepared.size, prepared.channels,
                          {split: sum(labels.values()) for split, labels in prepared.counts().items()})
        probe = cls.cost_probe(dataclasses.replace(config, accel="on", compile=False), shape, check.device)
        if probe.wall_seconds and probe.wall_seconds > NORMAL_GAN_BUDGET_S:
            factor = NORMAL_GAN_BUDGET_S / probe.wall_seconds
            for key in ("iterations", "encoder_iterations"):
                if getattr(config, key, None):
                    overrides[key] = str(max(2, int(getattr(config, key) * factor)))
            note = f"scaled x{factor:.2f} to the budget"
    result = run_with_curve(check, name, overrides)
    record = json.loads((Path(result.pop("folder")) / "run.json").read_text())
    training = record.get("method_info", {}).get("training") or {}
    return {**result, "iterations": note, "parameters": training.get("parameters"),
            "steps": training.get("iterations")}


def score_agreement(check: Check) -> dict[str, Any]:
    """The part-2 HealthyGAN scored on the test split in fp32 (as runs score) and under bf16 autocast."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from bench.methods.healthygan.detector import HealthyGANDetector

    if check.agreement_folder is None:
        raise RuntimeError("no trained HealthyGAN (part 2 failed)")
    detector = HealthyGANDetector.load(check.agreement_folder / "detector.pt", device=str(check.device))
    test = prepare_data(check).split("test")
    fp32 = detector.score(test)
    with torch.autocast(check.device.type, dtype=torch.bfloat16):
        bf16 = detector.score(test)
    diff = np.abs(bf16 - fp32)
    return {"detector": "healthygan fast (part 2)", "images": len(test), "max_abs_diff": float(diff.max()),
            "mean_abs_diff": float(diff.mean()), "mean_score": float(fp32.mean()),
            "spearman": float(spearmanr(fp32, bf16).statistic), "auc_fp32": float(roc_auc_score(test.labels, fp32)),
            "auc_bf16": float(roc_auc_score(test.labels, bf16))}


def ddad_step(check: Check) -> dict[str, Any]:
    """DDAD's steps, ours vs fp32 eager (benchmarks.ddad_step), in the step-throughput table."""
    from benchmarks.ddad_step import ddad_step_throughput

    return ddad_step_throughput(check.device, smoke=check.smoke, compile=check.compile)


def ssl_throughput(check: Check) -> dict[str, Any]:
    """Synthesis vs training rates of the self-supervised family (which one bounds a run)."""
    from benchmarks.synthetic_anomaly import measure

    if check.smoke:
        return measure(check.device, 32, 4, [0, 2], ["nsa"], batches=1, steps=1)
    return measure(check.device, 224, 64, [0, 8], ["cutpaste", "fpi", "pii", "nsa"], batches=5, steps=20,
                   compile=check.compile)


def ssl_run(check: Check, name: str) -> dict[str, Any]:
    result = run_preset(check, name, SSL_SMOKE if check.smoke else SSL_FAST)
    result.pop("folder")
    return result


def run_part(results: dict[str, Any], section: str, key: str, fn: Callable[[], dict[str, Any]]) -> None:
    """Run one part, recording its result or its error (the check goes on)."""
    start = time.perf_counter()
    try:
        results[section][key] = {**fn(), "part_s": time.perf_counter() - start}
    except Exception as exc:  # noqa: BLE001 - a failed part is recorded with its traceback, the others still run
        results[section][key] = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        results["errors"].append(f"{section}/{key}: {type(exc).__name__}: {exc}")
        traceback.print_exc()
    print(f"[gpu-check] {section}/{key}: {time.perf_counter() - start:.0f} s, "
          f"{'failed' if 'error' in results[section][key] else 'ok'}", flush=True)


def write_results(results: Mapping[str, Any], out: Path, stem: str) -> None:
    """The JSON and its Markdown summary; written after every part, so a check stopped halfway keeps what it did."""
    out.mkdir(parents=True, exist_ok=True)
    for suffix, text in ((".json", json.dumps(results, indent=2, default=str) + "\n"), (".md", markdown(results))):
        partial = out / f"{stem}{suffix}.tmp"
        partial.write_text(text)
        partial.replace(out / f"{stem}{suffix}")


def _fmt(value: Any, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def markdown(results: Mapping[str, Any]) -> str:
    """A short summary of the JSON."""
    device = results["device"]
    lines = [f"# gpu-check ({results['mode']})", "", f"Device: {device.get('gpu', device['device'])} "
             f"({device.get('reason', '')}); torch {results['torch']}; {results['elapsed_s']:.0f} s in all.",
             "", "| training step | setting | ours it/s | fp32 eager it/s | ratio | ours peak MB | fp32 peak MB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name, row in results["step_throughput"].items():
        if "error" in row:
            lines.append(f"| {name} | failed: {row['error']} | | | | | |")
            continue
        ours, ref = row["ours"], row["reference"]
        lines.append(f"| {name} | {row['setting']} | {ours['it_s']:.2f} | {ref['it_s']:.2f} | {row['ratio']:.2f} | "
                     f"{_fmt(ours['peak_memory_mb'], '.0f')} | {_fmt(ref['peak_memory_mb'], '.0f')} |")
    lines += ["", "| fast run (synthetic) | test AUC | wall s | note |", "|---|---:|---:|---|"]
    for section in ("fast_runs", "baselines", "normal_gans"):
        for name, row in results[section].items():
            if "error" in row:
                lines.append(f"| {name} | failed | | {row['error']} |")
            else:
                lines.append(f"| {name} | {row['auc']:.3f} | {row['wall_s']:.0f} | {row.get('iterations', '')} |")
    agreement = results["score_agreement"].get("healthygan", {})
    if "error" in agreement or not agreement:
        lines += ["", f"Score agreement: failed ({agreement.get('error', 'not run')})."]
    else:
        lines += ["", f"Score agreement, bf16 vs fp32 ({agreement['detector']}, {agreement['images']} test images): "
                  f"max |diff| {agreement['max_abs_diff']:.2g} (mean score {agreement['mean_score']:.3g}), Spearman "
                  f"{agreement['spearman']:.4f}, AUC {agreement['auc_fp32']:.4f} (fp32) vs {agreement['auc_bf16']:.4f}"
                  " (bf16)."]
    lines += learning_curve.markdown({section: results[section] for section in ("fast_runs", "normal_gans")})
    lines += ssl_markdown(results.get("self_supervised", {}))
    if results.get("flops"):
        lines += ["", *flops.markdown({**results.get("mfu_peak", {}), "rows": results["flops"]})]
    if results["errors"]:
        lines += ["", "Failed parts:", *(f"- {e}" for e in results["errors"])]
    return "\n".join(lines) + "\n"


def ssl_markdown(section: Mapping[str, Any]) -> list[str]:
    """Part 5's lines: steps/s against each task's synthetic batches/s, and the NSA run."""
    lines = [""]
    throughput = section.get("throughput", {})
    if "steps_per_s" in throughput:
        steps = throughput["steps_per_s"]
        lines.append(f"Self-supervised family at {throughput['size']} px, batch {throughput['batch']}: training "
                     f"{steps['ours']:.2f} steps/s (fp32 eager {steps['fp32_eager']:.2f}); synthetic batches/s by "
                     "threads: " + "; ".join(f"{task} " + ", ".join(f"{rate:.1f} ({threads})" for threads, rate in
                                                                    row["batches_per_s"].items())
                                             + f" ({row['bottleneck']} bounds it)"
                                             for task, row in throughput["synthesis"].items()) + ".")
    elif throughput:
        lines.append(f"Self-supervised throughput: failed ({throughput.get('error')}).")
    nsa = section.get("nsa", {})
    if "auc" in nsa:
        lines.append(f"NSA fast (synthetic, {nsa['overrides']}): test AUC {nsa['auc']:.3f}, {nsa['wall_s']:.0f} s.")
    return lines


def main(argv: list[str] | None = None) -> int:
    from bench.core.device import choose_device
    from bench.runs.provenance import device_info

    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-smoke", action="store_true", help="every part for a few steps, tiny networks, CPU")
    parser.add_argument("--device", default=None, help="default: cuda (cpu with --cpu-smoke)")
    parser.add_argument("--out", type=Path, default=Path("results"), help="folder for the JSON and Markdown")
    parser.add_argument("--no-compile", action="store_true", help="our step without torch.compile (a quick look)")
    parser.add_argument("--run-budget", type=float, default=FAST_RUN_BUDGET_S,
                        help="seconds for each GAN's fast run in part 2, compile included (default %(default)s)")
    options = parser.parse_args(argv)
    requested = options.device or ("cpu" if options.cpu_smoke else "cuda")
    device = choose_device(requested).device
    started = time.perf_counter()
    mode = ("cpu-smoke" if options.cpu_smoke else "gpu") + (", no compile" if options.no_compile else "")
    stem = "gpu-check-cpu-smoke" if options.cpu_smoke else "gpu-check"
    results: dict[str, Any] = {"mode": mode, "elapsed_s": 0.0,
                               "device": device_info(device, requested=requested), "torch": torch.__version__,
                               "step_throughput": {}, "fast_runs": {}, "baselines": {}, "score_agreement": {},
                               "normal_gans": {}, "self_supervised": {}, "flops": {}, "mfu_peak": {},
                               "errors": []}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        check = Check(device, options.cpu_smoke, Path(work), compile=not options.no_compile,
                      run_budget_s=options.run_budget)
        check.peak_tflops, source = flops.peak_tflops(device)
        results["mfu_peak"] = {"peak_tflops": check.peak_tflops, "peak_source": source,
                               "skipped": dict(flops.SKIPPED)}
        steps = flops.step_calls(device, small=check.smoke, compile=check.compile)
        parts: list[tuple[str, str, Callable[[], dict[str, Any]]]] = [
            *(("step_throughput", name, lambda name=name: step_throughput(check, name)) for name in GANS),
            ("step_throughput", "ddad", lambda: ddad_step(check)),
            *(("fast_runs", name, lambda name=name: fast_gan_run(check, name)) for name in GANS),
            *(("baselines", name, lambda name=name: baseline_run(check, name)) for name in BASELINES),
            ("score_agreement", "healthygan", lambda: score_agreement(check)),
            *(("normal_gans", name, lambda name=name: normal_gan_run(check, name)) for name in NORMAL_GANS),
            ("self_supervised", "throughput", lambda: ssl_throughput(check)),
            ("self_supervised", "nsa", lambda: ssl_run(check, "nsa")),
            *(("flops", name, lambda name=name, build=build: flops_step(check, name, build))
              for name, build in steps.items())]
        for section, key, fn in parts:
            run_part(results, section, key, fn)
            results["elapsed_s"] = time.perf_counter() - started
            write_results(results, options.out, stem)
    print(markdown(results))
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
