"""Decode a manifest once into a uint8 `.npy` file (N, C, H, W) keyed by manifest hash, size and channels;
later runs open it as a memmap. Written atomically, so an interrupted preparation never looks complete."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from bench.errors import DataError
from bench.progress import Progress

MAX_LISTED_FAILURES = 20


def cache_root() -> Path:
    """`$BENCH_CACHE`, default `~/.cache/bench`."""
    return Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "bench")).expanduser()


def cache_dir(dataset: str, manifest_key: str, size: int, channels: int, crop_top: float = 0.0,
              root: Path | None = None, square: str = "crop") -> Path:
    """The cache folder of one (manifest rows in order, data root, size, channels, crop, squaring) combination.
    The root is part of the key because the split identity ignores paths: two copies of a data set in different
    formats must not share decoded images."""
    crop = f"-crop{crop_top:g}" if crop_top else ""
    crop += "-squash" if square == "squash" else ""
    where = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:8] if root is not None else "noroot"
    return cache_root() / dataset / f"{manifest_key}-{where}-{size}px-{channels}ch{crop}"


def build_image_cache(
    manifest: pd.DataFrame,
    root: Path,
    target: Path,
    *,
    size: int,
    channels: int,
    crop_top: float = 0.0,
    square: str = "crop",
    progress: Progress | None = None,
    workers: int | None = None,
) -> np.ndarray:
    """Decode every manifest row into `target/images.npy` (unless already complete) and return it as a memmap.

    Every unreadable file is collected and reported together, by name; nothing is dropped silently.
    """
    images_path = target / "images.npy"
    done_path = target / "complete.json"
    if done_path.exists() and images_path.exists():
        images = np.load(images_path, mmap_mode="r")
        if images.shape == (len(manifest), channels, size, size):
            return images
    target.mkdir(parents=True, exist_ok=True)
    partial = target / f"images.{os.getpid()}.npy.partial"
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(len(manifest), channels, size, size))
    paths = [Path(p) if Path(p).is_absolute() else root / p for p in manifest["path"]]
    failures = _decode_into(out, paths, size, channels, crop_top, square, progress or Progress(), workers)
    if failures:
        del out
        partial.unlink(missing_ok=True)
        listed = "\n  ".join(sorted(failures)[:MAX_LISTED_FAILURES])
        more = f"\n  ... and {len(failures) - MAX_LISTED_FAILURES} more" if len(failures) > MAX_LISTED_FAILURES else ""
        raise DataError(f"{len(failures)} of {len(paths)} images could not be read:\n  {listed}{more}\n"
                        "Re-download the files named above (or remove them from the data set's label file).")
    out.flush()
    del out
    os.replace(partial, images_path)
    manifest.to_csv(target / "manifest.csv", index=False)
    done_path.write_text(json.dumps({"n": len(manifest), "size": size, "channels": channels}))
    return np.load(images_path, mmap_mode="r")


def _decode_into(out: np.ndarray, paths: list[Path], size: int, channels: int, crop_top: float, square: str,
                 progress: Progress, workers: int | None) -> list[str]:
    """Decode `paths[i]` into `out[i]` on a thread pool (decoders release the GIL); returns the failures."""
    from bench.data.decode import load_image

    failures: list[str] = []

    def decode(index: int) -> None:
        try:
            out[index] = load_image(paths[index], size, channels, crop_top=crop_top, square=square)
        except DataError as exc:
            failures.append(str(exc))

    with ThreadPoolExecutor(max_workers=workers or min(8, (os.cpu_count() or 2) + 2)) as pool, progress.task(
        f"decode {len(paths)} images", total=len(paths)
    ) as bar:
        for _ in pool.map(decode, range(len(paths))):
            bar.advance(1)
    return failures
