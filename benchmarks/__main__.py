"""`python -m benchmarks [--only NAME] [--device auto|cpu|cuda] [--preset P] [--size N] [--batch-size B]`:
runs every registered benchmark and prints one table (iterations/s of ours and of the plain reference)."""

from __future__ import annotations

import argparse

import pandas as pd

from bench.core.device import resolve_device
from benchmarks.gan_step import CASES, BenchArgs, run_case


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", default=None, help="comma-separated case names (default: all)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--preset", default=None, help="network widths from this preset (default: paper on "
                        "CUDA, smoke on CPU so that `make bench` stays short there)")
    parser.add_argument("--size", type=int, default=None, help="image size (default: 64 on CUDA, 32 on CPU)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--units", type=int, default=None, help="timed units per side")
    parser.add_argument("--warmup", type=int, default=3)
    options = parser.parse_args(argv)
    device = resolve_device(options.device)
    cuda = device.type == "cuda"
    args = BenchArgs(device=device, preset=options.preset or ("paper" if cuda else "smoke"),
                     size=options.size or (64 if cuda else 32), batch_size=options.batch_size,
                     units=options.units or (20 if cuda else 5), warmup=options.warmup)
    names = options.only.split(",") if options.only else list(CASES)
    rows = [run_case(name, args) for name in names]
    table = pd.DataFrame(rows)
    with pd.option_context("display.max_colwidth", 120, "display.width", 200, "display.float_format", "{:.2f}".format):
        print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
