"""`python -m benchmarks.decode [--n 24] [--size 256] [--workers N] [--keep DIR]`: decoding at the real files'
sizes. Writes generated trees of the three kinds of file the chest X-ray sets ship (tests/datasets/fake_trees.py's
writers): RSNA-like 1024 x 1024 8-bit JPEG-baseline DICOM, VinDr-like 2500 x 2000 12-bit uncompressed DICOM (every
third MONOCHROME1) and ChestX-ray14-like 1024 x 1024 8-bit PNG. Then decodes each kind to `--size` px four ways in
this process: a plain single-process loop (pydicom / Pillow decode, min-max to uint8, Pillow resize: what a
user would write), and `bench.data.cache.build_image_cache` (what `bench data prepare` runs) serially, on threads
and on processes. Prints images per second and checks that the three cache paths wrote identical bytes."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from bench.data.cache import build_image_cache, decode_workers

KINDS = ("rsna", "vindr", "chestxray14")


def write_trees(root: Path, n: int) -> dict[str, list[Path]]:
    """`n` files of each kind under `root`, in the official layouts (labels files included)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.datasets.fake_trees import ramp, write_png, write_rsna_tree, write_vindr_tree

    write_rsna_tree(root / "rsna", normal=n, opacity=0, other=0, size=1024)
    write_vindr_tree(root / "vindr", normal=n, abnormal=0, size=2000, height=2500)
    for index in range(n):
        write_png(root / "chestxray14" / "images" / f"{index:08d}_000.png", ramp(1024, seed=index))
    return {"rsna": sorted((root / "rsna" / "stage_2_train_images").glob("*.dcm")),
            "vindr": sorted((root / "vindr" / "train").glob("*.dcm")),
            "chestxray14": sorted((root / "chestxray14" / "images").glob("*.png"))}


def plain_loop(paths: list[Path], size: int) -> float:
    """Seconds of the plain loop: decode each file, min-max to uint8, resize."""
    import pydicom

    start = time.perf_counter()
    for path in paths:
        if path.suffix == ".dcm":
            dataset = pydicom.dcmread(path)
            pixels = dataset.pixel_array.astype(np.float32)
            pixels = (pixels - pixels.min()) / max(float(pixels.max() - pixels.min()), 1e-6) * 255.0
            if dataset.PhotometricInterpretation == "MONOCHROME1":
                pixels = 255.0 - pixels
            image = Image.fromarray(pixels.astype(np.uint8))
        else:
            image = Image.open(path).convert("L")
        np.asarray(image.resize((size, size), Image.Resampling.BILINEAR))
    return time.perf_counter() - start


def cache_seconds(paths: list[Path], target: Path, size: int, workers: int, processes: bool
                  ) -> tuple[float, np.ndarray]:
    """Seconds of build_image_cache into a fresh `target`, and the cached images."""
    manifest = pd.DataFrame({"path": [str(p) for p in paths]})
    start = time.perf_counter()
    cached = build_image_cache(manifest, target.parent, target, size=size, channels=1, workers=workers,
                               processes=processes)
    return time.perf_counter() - start, np.asarray(cached.images)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.decode", description=__doc__)
    parser.add_argument("--n", type=int, default=24, help="files of each kind")
    parser.add_argument("--size", type=int, default=256, help="protocol size to decode to")
    parser.add_argument("--workers", type=int, default=None, help="threads / processes (default: "
                        "$BENCH_DECODE_WORKERS, else every core)")
    parser.add_argument("--keep", type=Path, default=None, help="write the trees here and keep them")
    options = parser.parse_args(argv)
    workers = options.workers or decode_workers()
    with tempfile.TemporaryDirectory() as scratch:
        root = options.keep or Path(scratch)
        paths = write_trees(root / "trees", options.n)
        print(f"os.cpu_count()={os.cpu_count()}, workers={workers}, {options.n} files per kind, to "
              f"{options.size} px; images/s (higher is better)\n")
        print(f"| files | plain loop | bench serial | bench threads ({workers}) | bench processes ({workers}) "
              "| processes / plain |")
        print("|---|---:|---:|---:|---:|---:|")
        for kind in KINDS:
            files = paths[kind]
            plain = plain_loop(files, options.size)
            runs = {}
            for name, count, processes in (("serial", 1, False), ("threads", workers, False),
                                           ("processes", workers, True)):
                runs[name] = cache_seconds(files, root / "cache" / f"{kind}-{name}", options.size, count, processes)
            same = all(np.array_equal(runs["serial"][1], runs[name][1]) for name in ("threads", "processes"))
            if not same:
                raise SystemExit(f"{kind}: the cache paths decoded different bytes")
            rate = {name: len(files) / seconds for name, (seconds, _) in runs.items()}
            print(f"| {kind} | {len(files) / plain:.1f} | {rate['serial']:.1f} | {rate['threads']:.1f} | "
                  f"{rate['processes']:.1f} | {rate['processes'] * plain / len(files):.2f}x |", flush=True)
        print("\nserial, threads and processes wrote byte-identical caches")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
