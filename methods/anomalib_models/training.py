"""Build an anomalib Lightning module and train it with anomalib's own `Engine.fit`, quietly and in a scratch folder.

Why the Engine rather than the bare torch models: it is anomalib's training path for every image model (each
model's `training_step`, optimisers, `trainer_arguments`, the memory-bank fitting hooks of PaDiM / PatchCore, the
pre-processor callback), so one adapter serves them all without re-implementing any of them. Inference skips
Lightning on purpose (see detector.py): the Lightning predict/test steps are where anomalib normalises scores.
"""

from __future__ import annotations

import contextlib
import ctypes
import inspect
import logging
import random
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.core.errors import BenchError
from bench.core.images import ImageSet
from bench.core.interrupts import interrupts_through_library
from bench.core.progress import Progress
from bench.methods.anomalib_models.data import train_datamodule

M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 16 * 2**20
_QUIET_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "lightning_fabric", "pytorch_lightning",
                  "anomalib")


def limit_heap_fragmentation() -> bool:
    """glibc: serve allocations >= 16 MiB by mmap, so PatchCore's coreset selection returns memory to the system
    (without it RSS grew past 24 GB on 100 images at 128 px; see methods/anomalib_models/README.md). No-op off glibc."""
    try:
        return bool(ctypes.CDLL("libc.so.6").mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and torch for the block, then restore the caller's RNG states (fit must be a pure
    function of data and seed, and must not disturb the caller's random streams)."""
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count()) if torch.cuda.is_available() else []):
        random.seed(seed)
        np.random.seed(seed % 2**32)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence Lightning's banners and warnings and anomalib's tqdm bars (PatchCore's coreset selection) for the
    block: the CLI shows its own progress. tqdm reads TQDM_DISABLE only at import, hence the patched __init__."""
    import tqdm

    saved = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
    tqdm_init = tqdm.tqdm.__init__

    def silent_init(self: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["disable"] = True
        tqdm_init(self, *args, **kwargs)

    tqdm.tqdm.__init__ = silent_init
    try:
        for name in _QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(lightning|pytorch_lightning|anomalib|torchmetrics)(\.|$)")
            warnings.filterwarnings("ignore", message=r".*(logger=True|infer the `batch_size`|eval mode at the start)")
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*(timm\.layers|deprecated)")
            yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        tqdm.tqdm.__init__ = tqdm_init


def anomalib_class(class_name: str) -> type:
    """`anomalib.models.<class_name>` (importing anomalib now, about 7 s the first time)."""
    with quiet():
        import anomalib.models

    return getattr(anomalib.models, class_name)


def check_arguments(model_class: type, kwargs: Mapping[str, Any]) -> None:
    """Raise BenchError naming the keywords of `kwargs` that `model_class` does not take, and those it does."""
    accepted = inspect.signature(model_class.__init__).parameters
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown:
        valid = [k for k in accepted if k not in ("self", "pre_processor", "post_processor", "evaluator",
                                                   "visualizer", "args", "kwargs")]
        raise BenchError(f"{model_class.__name__} has no argument(s) {', '.join(unknown)}; it takes {', '.join(valid)}")


def build_module(model_class: type, kwargs: dict[str, Any], image_size: tuple[int, int]) -> Any:
    """The Lightning module with anomalib's default pre-processing at `image_size` and no post-processing,
    evaluator or visualiser: scores stay raw (anomalib would min-max normalise them)."""
    check_arguments(model_class, kwargs)
    pre_processor = model_class.configure_pre_processor(image_size=image_size)
    return model_class(pre_processor=pre_processor, post_processor=False, evaluator=False, visualizer=False,
                       **kwargs)


def progress_callback(progress: Progress, description: str, epochs: int) -> Any:
    """A Lightning callback that reports each epoch (with the logged losses) to bench's Progress."""
    from lightning.pytorch import Callback

    class _Report(Callback):
        def on_train_start(self, trainer: Any, pl_module: Any) -> None:
            self.task = progress.task(description, total=epochs)
            self.task.__enter__()

        def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
            fields = {k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1}
            self.task.advance(1, **fields)

        def on_train_end(self, trainer: Any, pl_module: Any) -> None:
            self.task.__exit__(None, None, None)

    return _Report()


def fit_module(module: Any, images: ImageSet, *, epochs: int, batch_size: int, seed: int, device: torch.device,
               workdir: Path | None, progress: Progress, description: str, val_from_train: bool = False) -> None:
    """Train `module` with anomalib's Engine on `images` for `epochs` epochs (a model's own `trainer_arguments`,
    e.g. PaDiM's single epoch, take precedence, as in anomalib). The Engine's folders live in a scratch folder
    (inside `workdir` when given) that is removed afterwards; no checkpoint or log is written. `val_from_train`:
    give the model a validation loader over the training normals, run once at the end (EfficientAD computes its
    map-normalisation quantiles there)."""
    from anomalib.callbacks.checkpoint import ModelCheckpoint
    from anomalib.engine import Engine

    limit_heap_fragmentation()
    scratch_parent = None
    if workdir is not None:
        scratch_parent = Path(workdir)
        scratch_parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="anomalib-engine-", dir=scratch_parent))
    accelerator = "gpu" if device.type == "cuda" else "cpu"
    devices = [device.index or 0] if device.type == "cuda" else 1
    try:
        engine = Engine(
            default_root_dir=scratch, logger=False, accelerator=accelerator, devices=devices, max_epochs=epochs,
            callbacks=[ModelCheckpoint(dirpath=scratch, save_top_k=0, save_last=False),
                       progress_callback(progress, description, epochs)],
            enable_progress_bar=False, enable_model_summary=False,
            **({"check_val_every_n_epoch": epochs} if val_from_train else {"limit_val_batches": 0}),
        )
        with quiet(), interrupts_through_library():
            engine.fit(module, datamodule=train_datamodule(images, batch_size, seed, with_val=val_from_train))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
