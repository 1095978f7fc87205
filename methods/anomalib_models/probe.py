"""The anomalib models' cost probe for `bench run --dry-run`, on random images at the model's input size.

Memory-bank models (PaDiM, PatchCore: no optimiser, one epoch) are timed on their feature pass per batch, and
their learned state is sized from that pass's output (PaDiM's Gaussian per patch position, PatchCore's coreset
of patch features, whose greedy selection is timed one step and scaled). Trained models (GANomaly, ...) run their
real `training_step` on one batch (Lightning's trainer hooks replaced by plain backward / step). Each is timed
after a warm-up call where calls are short (`bench.runs.dry_run.warm_timed`). The backbone is
built with random weights: the probe never downloads.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

import torch

from bench.core.cost import CostProbe, DataShape, peak_memory, random_images, warm_timed

GREEDY_JL_EPS = 0.9  # anomalib's KCenterGreedy projects to the Johnson-Lindenstrauss dimension at this eps
GREEDY_TIMED_ROWS = 200_000  # the probe times one greedy step on at most this many projected rows, scaled to the bank
NN_TIMED_ROWS = 16_384  # scoring's distance matmul is timed against at most this many coreset rows, scaled
NN_CHUNK_ROWS = 1024  # anomalib's PatchcoreModel.nearest_neighbors: query rows per distance matrix (DEFAULT_CHUNK_SIZE)
MEMORY_HEADROOM = 0.2  # over padim_memory_bytes' arrays: at 10 % the bound held by 6-35 MB only (RSS noise)
# Beyond the counted arrays, the fit's RSS grows by about 60 KiB per training image whatever the image size
# (measured on CPU, not attributed: +60 MB peak RSS for 200 images at 32 px, +382 MB for 3,000, where the counted
# arrays are 19 and 169 MB). With it, the model predicts 11.4 GB for ChestX-ray14's full protocol at 128 px (paper
# preset, random backbone) against the 10.5 GB issue 27 measured; with the allocator's share taken per bank byte
# instead it would predict 19.8 GB.
PER_IMAGE_BYTES = 60 * 2**10
FIT_OVERHEAD_BYTES = 64 * 2**20  # Lightning's trainer and data loader around the fit (the +60 MB at 200 images)


def padim_memory_bytes(n_train: int, n_features: int, positions: int) -> int:
    """Bytes PaDiM's fit adds, as anomalib allocates them (`Padim.fit`, `MultiVariateGaussian.forward`): the
    memory bank of every training embedding (float32, N x F x H W) twice while `torch.vstack` joins its batches,
    then the covariance, its stabilised copy and its inverse (3 x F^2 x H W float32), plus MEMORY_HEADROOM, the
    measured PER_IMAGE_BYTES and the fit's fixed overhead."""
    bank = 4 * n_train * n_features * positions
    gaussian = 3 * 4 * positions * n_features**2
    return int((1 + MEMORY_HEADROOM) * (2 * bank + gaussian + PER_IMAGE_BYTES * n_train)) + FIT_OVERHEAD_BYTES


_IMPORT_SECONDS: list[float] = []  # measured once per process by import_seconds


def import_seconds() -> float:
    """Seconds this process took to import anomalib's models and engine (with Lightning), measured at the first
    probe: a run's fit pays it once (about 4 s idle, 18 s on a loaded 2-core VM). 0 where something imported them
    before the first probe (then not measured)."""
    if not _IMPORT_SECONDS:
        fresh = "anomalib.models" not in sys.modules or "anomalib.engine" not in sys.modules
        start = time.perf_counter()
        import anomalib.engine  # noqa: F401
        import anomalib.models  # noqa: F401
        _IMPORT_SECONDS.append(time.perf_counter() - start if fresh else 0.0)
    return _IMPORT_SECONDS[0]


def projection_dim(rows: int) -> int:
    """Columns of the coreset's random projection for a bank of `rows` patch features (anomalib's own formula)."""
    from anomalib.models.components.dimensionality_reduction import SparseRandomProjection

    return int(SparseRandomProjection._johnson_lindenstrauss_min_dim(n_samples=rows, eps=GREEDY_JL_EPS))


def patchcore_memory_bytes(n_train: int, rows: int, n_features: int, ratio: float) -> int:
    """Bytes PatchCore's fit adds, as anomalib allocates them (`PatchcoreModel.subsample_embedding`,
    `KCenterGreedy`): every training patch feature (float32, `rows` x F) twice while `torch.vstack` joins the stored
    batches; then, beside the bank, its random projection (rows x k) and each greedy step's `features - centre`
    temporary (rows x k), and the coreset copied out of the bank (ratio x rows x F); scoring's distance chunk
    (1,024 query rows x coreset) is below that. Where the step's temporary is under glibc's mmap threshold
    (training.MMAP_THRESHOLD_BYTES) it lives on the heap, and small tensors allocated every step land in its freed
    space, so freed temporaries are not reused: RSS can grow by one temporary per step (seen: +1.4 GB for 480 steps
    of 4 MB, +18 GB for 1,600 steps of 15 MB); the bound counts every step's temporary there. Plus
    MEMORY_HEADROOM, PER_IMAGE_BYTES (measured on PaDiM's fit through the same Engine) and the fit's overhead."""
    from bench.methods.anomalib_models.training import MMAP_THRESHOLD_BYTES

    bank = 4 * rows * n_features
    k = projection_dim(max(rows, 2))
    projected = 4 * rows * k
    kept = int(rows * ratio)
    heap_steps = max(kept - 1, 0) if projected < MMAP_THRESHOLD_BYTES else 0
    greedy = bank + 2 * projected + projected * heap_steps + 4 * 4 * rows
    scoring = 2 * 4 * NN_CHUNK_ROWS * kept  # after the fit: the bank is gone, the coreset stays
    coreset = 4 * kept * n_features
    peak = max(2 * bank, greedy, scoring) + coreset
    return int((1 + MEMORY_HEADROOM) * (peak + PER_IMAGE_BYTES * n_train)) + FIT_OVERHEAD_BYTES


def probe_anomalib(cls: Any, config: Any, data: DataShape, device: torch.device) -> CostProbe:
    """Build the model (random backbone), time one warm-up and one timed step per batch, and scoring."""
    from bench.methods.anomalib_models.data import as_anomalib_images
    from bench.methods.anomalib_models.training import quiet

    imports = import_seconds()
    detector = cls(config, seed=0, device=device)
    size = detector._input_size(random_images(1, 1, data.size))
    module = detector._build(size, pretrained=False, records=[])
    model = module.model.to(device)
    batch_size = int(config.batch_size)
    images = as_anomalib_images(random_images(batch_size, 1, size[0]).images).to(device)
    if module.pre_processor is not None:
        images = module.pre_processor.transform(images)
    optimizers = module.configure_optimizers()
    notes = ["random backbone"] if getattr(config, "pretrained", False) else []
    if imports:
        notes.append(f"with {imports:.0f} s of importing anomalib and Lightning")
    with quiet(), peak_memory(device) as peak:
        if optimizers is None:  # scoring is the same feature pass, then distances to the memory (not timed)
            step, features = _feature_pass(model, images, device)
            per_image = step / batch_size
        else:
            step, features = _training_step(module, optimizers, images, device), None
            notes.append("real training_step")
            model.eval()
            with torch.no_grad():
                per_image = warm_timed(lambda: model(images), device) / batch_size
    n_train = data.count("train_normal")
    epochs = int(module.trainer_arguments.get("max_epochs") or detector.epochs())
    steps = epochs * math.ceil(n_train / batch_size) if n_train else None
    parameters = sum(p.numel() for p in model.parameters())
    state = parameters * 4
    extra = per_image * (data.count("test") + data.count("val")) + imports
    key = detector.model_key
    peak_mb, transient = peak.mb, 0
    if features is not None and key == "padim":
        n_features, positions = features.shape[1], features.shape[2] * features.shape[3]
        state += 4 * positions * (n_features + n_features**2)  # mean and inverse covariance per position
        if peak_mb is not None:  # the probe held one batch's embeddings; the fit holds the whole training set's
            grown = padim_memory_bytes(n_train, n_features, positions) - 4 * batch_size * n_features * positions
            peak_mb += max(grown, 0) / 2**20
            transient = 2 * 4 * n_train * n_features * positions  # the bank and its vstack, freed after the fit
            notes.append("memory: the probe's peak plus the embeddings of every training image and the Gaussian")
    elif features is not None and key == "patchcore":
        per_image_rows, n_features = features.shape[0] // batch_size, features.shape[1]
        rows = per_image_rows * n_train  # patch features of the whole training set
        kept = int(rows * config.coreset_sampling_ratio)
        state += 4 * kept * n_features
        extra += coreset_seconds(rows, n_features, kept, device)
        extra += (data.count("test") + data.count("val")) * _distance_seconds(per_image_rows, n_features, kept, device)
        if peak_mb is not None:  # the probe held one batch's features; the fit holds the whole bank and coreset
            grown = patchcore_memory_bytes(n_train, rows, n_features, config.coreset_sampling_ratio)
            peak_mb += max(grown - 4 * features.shape[0] * n_features, 0) / 2**20
            # freed after the fit: one copy of the bank (of the two vstack holds) counted, since the greedy steps'
            # heap temporaries may stay resident
            transient = 4 * rows * n_features
        notes.append(f"coreset: {kept:,} greedy steps over {rows:,} patch features, one timed; memory: the bank, "
                     "its projection and the coreset")
    elif features is not None:
        notes.append("learned buffers not sized")
    return CostProbe(parameters=parameters, seconds_per_step=step, steps=steps,
                     step=f"batch of {batch_size}, {epochs} epoch(s)",
                     peak_memory_mb=peak_mb, fit_transient_mb=transient / 2**20, state_bytes=state + 64 * 1024,
                     extra_seconds=extra, notes=tuple(notes))


def _feature_pass(model: torch.nn.Module, images: torch.Tensor, device: torch.device) -> tuple[float, Any]:
    """Seconds of the training-mode forward (the features a memory-bank model stores), and its output."""
    model.train()
    features: list[Any] = []
    with torch.no_grad():
        seconds = warm_timed(lambda: features.append(model(images)), device)
    return seconds, features[-1]


def _training_step(module: Any, optimizers: Any, images: torch.Tensor, device: torch.device) -> float:
    """Seconds of the module's own training_step on one batch (see `warm_timed`), with Lightning's
    optimiser, backward and logging hooks replaced by their plain torch equivalents."""
    from anomalib.data import ImageBatch

    found = optimizers if isinstance(optimizers, list | tuple) else [optimizers]
    found = [o["optimizer"] if isinstance(o, dict) else o for o in found]
    if found and isinstance(found[0], list | tuple):  # ([optimisers], [schedulers])
        found = list(found[0])
    manual = not module.automatic_optimization
    module.optimizers = lambda *args, **kwargs: found if len(found) > 1 else found[0]
    module.manual_backward = lambda loss, *args, **kwargs: loss.backward(*args, **kwargs)
    module.log_dict = module.log = lambda *args, **kwargs: None
    module.to(device).train()
    batch = ImageBatch(image=images)

    def step() -> None:
        out = module.training_step(batch, 0)
        if not manual:
            loss = out["loss"] if isinstance(out, dict) else out
            for optimizer in found:
                optimizer.zero_grad()
            loss.backward()
            for optimizer in found:
                optimizer.step()

    return warm_timed(step, device)


def coreset_seconds(rows: int, n_features: int, kept: int, device: torch.device) -> float:
    """anomalib's coreset selection on a bank of `rows` x `n_features`: the random projection (one matmul,
    timed on at most GREEDY_TIMED_ROWS rows, scaled by rows) and `kept` - 1 greedy steps of `KCenterGreedy`
    (one step timed on at most GREEDY_TIMED_ROWS projected rows, scaled by rows: each step reads every row)."""
    from bench.methods.anomalib_models.training import limit_heap_fragmentation

    limit_heap_fragmentation()  # the fit runs with it (training.fit_module); it sets what a step's temporary costs
    k = projection_dim(max(rows, 2))
    sample = max(min(rows, GREEDY_TIMED_ROWS), 2)
    bank = torch.rand(sample, n_features, device=device)
    matrix = torch.rand(k, n_features, device=device)
    projection = warm_timed(lambda: bank @ matrix.T, device) * rows / sample
    return projection + _greedy_step_seconds(sample, k, device) * rows / sample * max(kept - 1, 0)


def _greedy_step_seconds(rows: int, k: int, device: torch.device) -> float:
    """One step of anomalib's `KCenterGreedy` (update_distances, get_new_idx, the scatter that zeroes the pick) on
    `rows` random projected features of `k` columns."""
    from anomalib.models.components.sampling import KCenterGreedy

    sampler = KCenterGreedy(torch.zeros(rows, 1, device=device), sampling_ratio=1.0)
    sampler.features = torch.rand(rows, k, device=device)
    sampler.update_distances(cluster_center=torch.tensor(0, device=device))

    def update() -> None:
        idx = sampler.get_new_idx()
        sampler.update_distances(cluster_center=idx)
        sampler.min_distances.scatter_(0, idx.unsqueeze(0).unsqueeze(1), 0.0)

    return warm_timed(update, device)


def _distance_seconds(query_rows: int, n_features: int, kept: int, device: torch.device) -> float:
    """Scoring one image: anomalib's nearest-neighbour search of its `query_rows` patch features against the
    coreset (`PatchcoreModel.euclidean_dist`, a matmul), timed against at most NN_TIMED_ROWS coreset rows and
    scaled by the coreset's size."""
    from anomalib.models.image.patchcore.torch_model import PatchcoreModel

    sample = max(min(kept, NN_TIMED_ROWS), 1)
    query = torch.rand(query_rows, n_features, device=device)
    bank = torch.rand(sample, n_features, device=device)
    return warm_timed(lambda: PatchcoreModel.euclidean_dist(query, bank).min(1), device) * kept / sample
