"""Decode a manifest once into a uint8 `.npy` file (N, C, H, W) keyed by manifest hash, size and channels;
later runs open it as a memmap. Written atomically, so an interrupted preparation never looks complete, and
checked against the files (size and modification time of each) every time it is used, so a changed file is
decoded again instead of served stale."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import multiprocessing
import os
import signal
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from bench.core.errors import DataError
from bench.core.files import atomic_write, atomic_write_text
from bench.core.progress import Progress
from bench.data.pixels import decode_task, load_pixels

MAX_LISTED_FAILURES = 20
WORKERS_ENV = "BENCH_DECODE_WORKERS"  # how many processes decode (default: every core, os.cpu_count())
PROCESSES_FROM = 256  # fewer images than this decode on threads: a pool's start-up would cost more than it saves
IMAGES, COMPLETE, STATS = "images.npy", "complete.json", "file_stats.npy"
DIGESTS = "file_digests.npy"  # blake2b of each file's bytes, written by --rehash (issue 28)
DECODE_VERSION = 2  # 2: one bit-depth rule (bench.data.decode.BIT_DEPTH_RULE); caches of another version decode again


def cache_root() -> Path:
    """`$BENCH_CACHE`, default `~/.cache/bench`."""
    return Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "bench")).expanduser()


def cache_dir(dataset: str, manifest_key: str, size: int, channels: int, crop_top: float = 0.0,
              root: Path | None = None, square: str = "crop") -> Path:
    """The cache folder of one (manifest rows in order, data root, size, channels, crop, squaring) combination.
    The root is part of the key because the split identity ignores paths: two copies of a data set in different
    formats must not share decoded images."""
    crop = f"-crop{crop_top:g}" if crop_top else ""
    crop += f"-{square}" if square in ("squash", "ddad") else ""
    where = hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:8] if root is not None else "noroot"
    return cache_root() / dataset / f"{manifest_key}-{where}-{size}px-{channels}ch{crop}"


@dataclasses.dataclass(frozen=True)
class CachedImages:
    """The decoded images of a manifest, what identifies their content, and how many were decoded just now."""

    images: np.ndarray  # (N, C, H, W) uint8 memmap in manifest order
    images_id: str  # 12 hex digits of the decoded bytes: changes whenever any image does
    decoded: int  # images decoded by this call (0: all from the cache)
    redecoded: int  # of those, images that were cached before but whose file changed since


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
    rehash: bool = False,
    processes: bool | None = None,
) -> CachedImages:
    """Decode every manifest row into `target/images.npy` and return it as a memmap.

    Each cached image remembers its file's size and modification time: on every call the files are checked
    (one `stat` each) and the ones that changed since they were decoded are decoded again. Every unreadable
    file is collected and reported together, by name; nothing is dropped silently. `rehash`: also hash every
    file's bytes and decode again those whose bytes differ from the last rehash (all of them the first time),
    which a replacement of the same size and modification time needs.

    Decoding uses `workers` (default `decode_workers()`: $BENCH_DECODE_WORKERS, else every core) worker
    processes (Linux; threads elsewhere), as pydicom's parsing and the uint8 scaling hold the GIL (threads did
    not scale on VinDr-sized DICOM in benchmarks/decode.py); `processes=False` keeps it on threads, `None` picks
    processes for PROCESSES_FROM images or more. Every path writes the same bytes: `load_pixels`' output.
    """
    paths = [Path(p) if Path(p).is_absolute() else root / p for p in manifest["path"]]
    progress = progress or Progress()
    try:
        stats = file_stats(paths)
        cached = _open_complete(target, len(manifest), channels, size)
        if cached is not None:
            images, info, old_stats = cached
            changed = np.flatnonzero((old_stats != stats).any(axis=1))
            if rehash:
                changed = np.union1d(changed, _changed_bytes(target, paths))
            if len(changed) == 0:
                return CachedImages(images, info["images_id"], 0, 0)
            return _redecode(target, images, paths, stats, changed, size, channels, crop_top, square, progress,
                             workers, processes)
        return _decode_all(manifest, target, paths, stats, size, channels, crop_top, square, progress, workers,
                           processes)
    except PermissionError as exc:
        raise DataError(f"cannot write the image cache at {exc.filename or target}: permission denied; set "
                        "BENCH_CACHE to a folder you can write (default ~/.cache/bench)") from None
    except (FileNotFoundError, FileExistsError, NotADirectoryError) as exc:  # BENCH_CACHE a file, or not creatable
        raise DataError(f"cannot make the image cache folder {target} (BENCH_CACHE={cache_root()}): "
                        f"{exc.strerror or exc}; set BENCH_CACHE to a folder you can write") from None


def file_digests(paths: list[Path]) -> np.ndarray:
    """(N,) 16-byte blake2b digests of the files' bytes (empty for a file that cannot be read)."""
    out = np.zeros(len(paths), dtype="S16")
    for index, path in enumerate(paths):
        with contextlib.suppress(OSError), open(path, "rb") as handle:
            out[index] = hashlib.file_digest(handle, lambda: hashlib.blake2b(digest_size=16)).digest()
    return out


def _changed_bytes(target: Path, paths: list[Path]) -> np.ndarray:
    """Rows whose file bytes differ from the digests of the last rehash (every row when there was none); the new
    digests are written at once: a row found changed is decoded again by this call or, if that fails, by the next
    (its file stats stay old)."""
    digests = file_digests(paths)
    try:
        old = np.load(target / DIGESTS)
    except (OSError, ValueError):
        old = None
    changed = np.arange(len(paths)) if old is None or old.shape != digests.shape else np.flatnonzero(old != digests)

    def write(temp: Path) -> None:
        with open(temp, "wb") as handle:
            np.save(handle, digests)

    atomic_write(target / DIGESTS, write)
    return changed


def file_stats(paths: list[Path]) -> np.ndarray:
    """(N, 2) int64: size and modification time (ns) of each file; -1 for a file that cannot be read (its
    decode then fails and names it)."""
    out = np.full((len(paths), 2), -1, dtype=np.int64)
    for index, path in enumerate(paths):
        with contextlib.suppress(OSError):
            info = os.stat(path)
            out[index] = (info.st_size, info.st_mtime_ns)
    return out


def _open_complete(target: Path, n: int, channels: int, size: int) -> tuple[np.ndarray, dict, np.ndarray] | None:
    """(images, complete.json, file stats) of a finished cache of the expected shape; None otherwise."""
    try:
        info = json.loads((target / COMPLETE).read_text())
        stats = np.load(target / STATS)
        images = np.load(target / IMAGES, mmap_mode="r")
    except (OSError, ValueError):
        return None
    if images.shape != (n, channels, size, size) or stats.shape != (n, 2) or "images_id" not in info:
        return None
    if info.get("decode_version") != DECODE_VERSION:
        return None
    return images, info, stats


def _decode_all(manifest: pd.DataFrame, target: Path, paths: list[Path], stats: np.ndarray, size: int,
                channels: int, crop_top: float, square: str, progress: Progress, workers: int | None,
                processes: bool | None = None) -> CachedImages:
    target.mkdir(parents=True, exist_ok=True)
    (target / COMPLETE).unlink(missing_ok=True)
    remove_dead_partials(target)
    check_free_space(target, len(paths) * channels * size * size + 4096)  # a memmap on a full disk dies of SIGBUS
    partial = target / f"images.{os.getpid()}.npy.partial"
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(len(paths), channels, size, size))
    try:
        _raise_failures(_decode_into(out, paths, size, channels, crop_top, square, progress,
                                     workers, processes), len(paths))
        out.flush()
    except BaseException:
        del out
        partial.unlink(missing_ok=True)
        raise
    del out
    os.replace(partial, target / IMAGES)
    manifest.to_csv(target / "manifest.csv", index=False)
    images = np.load(target / IMAGES, mmap_mode="r")
    return _finish(target, images, stats, decoded=len(paths), redecoded=0)


def remove_dead_partials(target: Path) -> None:
    """Delete `images.<pid>.npy.partial` files whose writer is no longer running (killed mid-decode)."""
    for path in target.glob("images.*.npy.partial"):
        try:
            os.kill(int(path.name.split(".")[1]), 0)
        except ProcessLookupError:
            path.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            continue  # not a pid of ours to judge, or a live process of another user


def check_free_space(target: Path, needed: int) -> None:
    """A DataError naming the folder and the bytes needed when its disk has less free space than that."""
    import shutil

    free = shutil.disk_usage(target).free
    if free < needed:
        raise DataError(f"the image cache folder {target} needs {needed:,} bytes but its disk is full "
                        f"({free:,} bytes free); free space there or set BENCH_CACHE to a folder with room")


def _redecode(target: Path, images: np.ndarray, paths: list[Path], stats: np.ndarray, changed: np.ndarray,
              size: int, channels: int, crop_top: float, square: str, progress: Progress, workers: int | None,
              processes: bool | None = None) -> CachedImages:
    """Decode the changed rows into memory first, then write them into the cache: a failure leaves it as it was,
    and the recorded stats of those rows stay old, so the next call checks them again."""
    fresh = np.empty((len(changed), channels, size, size), dtype=np.uint8)
    failures = _decode_into(fresh, [paths[i] for i in changed], size, channels, crop_top, square, progress, workers,
                            processes)
    _raise_failures(failures, len(changed))
    differ = np.array([not np.array_equal(fresh[k], images[i]) for k, i in enumerate(changed)], dtype=bool)
    changed, fresh = changed[differ], fresh[differ]  # a rehash decodes every row once: count what changed
    if len(changed) == 0:
        return _finish(target, images, stats, decoded=0, redecoded=0)
    writable = np.load(target / IMAGES, mmap_mode="r+")
    writable[changed] = fresh
    writable.flush()
    del writable
    progress.log(f"re-decoded {len(changed)} of {len(paths)} images whose files changed since they were cached")
    images = np.load(target / IMAGES, mmap_mode="r")
    return _finish(target, images, stats, decoded=len(changed), redecoded=len(changed))


def _finish(target: Path, images: np.ndarray, stats: np.ndarray, *, decoded: int, redecoded: int) -> CachedImages:
    """Record the file stats and the content hash (stats first: complete.json marks the cache usable)."""
    images_id = content_hash(images)
    def write_stats(temp: Path) -> None:
        with open(temp, "wb") as handle:  # np.save on a path would append .npy to the temp name
            np.save(handle, stats)

    atomic_write(target / STATS, write_stats)
    atomic_write_text(target / COMPLETE, json.dumps({"n": len(images), "shape": list(images.shape),
                                                     "images_id": images_id, "decode_version": DECODE_VERSION}))
    return CachedImages(images, images_id, decoded, redecoded)


def content_hash(images: np.ndarray, chunk: int = 256) -> str:
    """12 hex digits of the images' bytes (blake2b; about 1 GB/s)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(str(images.shape).encode())
    for start in range(0, len(images), chunk):
        digest.update(np.ascontiguousarray(images[start : start + chunk]).data)
    return digest.hexdigest()[:12]


def _raise_failures(failures: list[str], total: int) -> None:
    if failures:
        listed = "\n  ".join(sorted(failures)[:MAX_LISTED_FAILURES])
        more = f"\n  ... and {len(failures) - MAX_LISTED_FAILURES} more" if len(failures) > MAX_LISTED_FAILURES else ""
        raise DataError(f"{len(failures)} of {total} images could not be read:\n  {listed}{more}\n"
                        "Re-download the files named above (or remove them from the data set's label file).")


def decode_workers() -> int:
    """Worker count for decoding: $BENCH_DECODE_WORKERS when set to a positive integer, else os.cpu_count()."""
    text = os.environ.get(WORKERS_ENV, "").strip()
    if text:
        if not text.isdigit() or int(text) < 1:
            raise DataError(f"{WORKERS_ENV} must be a positive integer, got {text!r}")
        return int(text)
    return os.cpu_count() or 1


def _process_context() -> multiprocessing.context.BaseContext | None:
    """fork on Linux, as PyTorch's DataLoader workers start: the workers run only the decoders (no torch, no
    output), and unlike spawn or forkserver they never re-run the caller's script, so a script without an
    `if __name__ == "__main__"` guard still works. Elsewhere None: threads decode."""
    return multiprocessing.get_context("fork") if sys.platform == "linux" else None


def _ignore_interrupts() -> None:
    """Worker processes leave Ctrl-C to the parent, which stops the pool and reports it once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _decode_into(out: np.ndarray, paths: list[Path], size: int, channels: int, crop_top: float, square: str,
                 progress: Progress, workers: int | None, processes: bool | None = None) -> list[str]:
    """Decode `paths[i]` into `out[i]` on worker processes (or threads: see build_image_cache); returns the
    failures."""
    workers = workers or decode_workers()
    context = _process_context()
    if processes is None:
        processes = workers > 1 and len(paths) >= PROCESSES_FROM
    processes = processes and context is not None
    failures: list[str] = []
    with progress.task(f"decode {len(paths)} images", total=len(paths)) as bar:
        if processes:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_ignore_interrupts)
            tasks = ((str(path), size, channels, crop_top, square) for path in paths)
            try:
                chunk = max(1, min(16, len(paths) // (workers * 8)))
                for index, (image, error) in enumerate(pool.map(decode_task, tasks, chunksize=chunk)):
                    if error is None:
                        out[index] = image
                    else:
                        failures.append(error)
                    bar.advance(1)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
            return failures

        def decode(index: int) -> None:
            try:
                out[index] = load_pixels(paths[index], size, channels, crop_top=crop_top, square=square)
            except DataError as exc:
                failures.append(str(exc))

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(decode, range(len(paths))):
                bar.advance(1)
    return failures
