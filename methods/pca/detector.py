"""PCA reconstruction error as an anomaly score (scikit-learn PCA fitted on known-normal images).

The fit is exact PCA computed through the smaller of the two symmetric matrices of the centred float32 data matrix
X (N images x D pixels): the Gram matrix X X^T (N x N) when N <= D, else the covariance X^T X (D x D), each
decomposed by a symmetric eigensolver. Its eigenvalues are all of the squared singular values, so a fraction of
variance (`n_components` < 1) picks the components exactly as scikit-learn's full SVD does, at a fraction of its
memory: scikit-learn's `svd_solver="full"` holds X, its centred copy, U (N x N), Vt (min(N, D) x D) and LAPACK's
work space (6.2 GB peak at ChestX-ray14's 10,000 images of 128 x 128, issue 27). Here the peak is predicted by
`memory_bytes` and bounded by the test against the measured RSS. Scores equal scikit-learn's full-SVD PCA within
SCORE_RTOL (tests/methods/test_pca_scale.py)."""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.core.config import PositiveFloat, PositiveInt
from bench.core.detector import Detector, RunResources
from bench.core.errors import BenchError
from bench.core.images import ImageSet, TrainData


@dataclasses.dataclass(frozen=True)
class PCAConfig:
    """n_components: an int (components) or a float in (0, 1) (fraction of variance kept)."""

    n_components: PositiveFloat = 0.95
    whiten: bool = False
    max_train_images: PositiveInt = 20000  # PCA cost grows with N; beyond this a seeded subsample is used

    def __post_init__(self) -> None:  # 2.5 components is neither a count nor a fraction: refused (issue 28)
        if self.n_components >= 1 and self.n_components != int(self.n_components):
            raise BenchError(f"n_components={self.n_components:g}: give a whole number of components (>= 1) or "
                             "a fraction of variance in (0, 1)")


SAMPLE_IMAGES = 128  # the cost probe's fit sample
SMALL_SAMPLE_IMAGES = 16  # and its smaller one: two sizes separate the fit's fixed cost from the eigenproblem's
# LAPACK's divide and conquer (?syevd): its time does not depend on the data. MRRR (`evr`, scipy's default) took 7.2
# to 51 s on 4,345-side matrices of different spectra (a Gram matrix of low-rank images, a uniform random matrix), so
# the dry run could not predict it; `evd` took 7.5-8.6 s on the same three matrices (one core, 2026-12-07). It needs
# 2 m^2 floats of work space beside the matrix, which it overwrites with the eigenvectors (memory_bytes).
EIGH_DRIVER = "evd"
EIGH_TIMED_SIDES = (384, 768)  # the probe times the eigensolver on symmetric matrices of these sides
# For fits past the cache, one solve is timed on a matrix of this many times the side that fills the last-level
# cache (2.25x its bytes) and scaled by m^3. With `evr`, at 1.1x the solve sometimes still ran from the cache (one
# core, 32 MiB: 0.12 ns per m^3 at 3,186 idle, 0.52 at 3,072 under load, 0.64 at 4,500) and ChestX-ray14's estimate
# swung between 542 and 952 s. With `evd`: 0.10-0.12 ns per m^3 from 4,345 to 10,000 (104 s there, predicted 97 s).
# The timed matrix is random: an upper bound, since image data deflate more (ChestX-ray14's full-size synthetic fit
# took 105 s in all).
EIGH_PAST_CACHE = 1.5
SCORE_CHUNK = 512  # images scored at once: bounds scoring memory to a few chunks of float32 pixels
MEMORY_HEADROOM = 0.1  # over the arrays counted by memory_bytes (test_pca_scale measured them within 6 %)
SCORE_RTOL = 1e-3  # scores vs scikit-learn's full-SVD PCA: max |diff| / max |score| (measured: about 1e-5)


def _residual_scores(features: np.ndarray, restored: np.ndarray) -> np.ndarray:
    """Mean squared reconstruction error per image, float32."""
    return ((features - restored) ** 2).mean(axis=1).astype(np.float32, copy=False)


def _residual_maps(features: np.ndarray, restored: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """|x - x'| averaged over channels: (N, H, W) for images of `shape` (C, H, W)."""
    return np.abs(features - restored).reshape(len(features), *shape).mean(axis=1)


def _flatten(images: Any) -> np.ndarray:
    """(N, D) float32 in [0, 1]; one new array (scaled in place)."""
    features = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    if np.shares_memory(features, images):
        features = features.copy()
    features /= 255.0
    return features


def memory_bytes(n: int, pixels: int, n_scored: int = 0) -> int:
    """Bytes a fit on `n` images of `pixels` values (and scoring) adds to the process, as `exact_pca` allocates
    them: the uint8 training images read (N D) and the float32 data matrix (4 N D, centred in place), then the
    larger of the eigenproblem of m = min(N, D) (the matrix, overwritten by its eigenvectors, and the divide and
    conquer's work space: 12 m^2) and the components (kept eigenvectors beside all of them, then the components: at
    most 4 m^2 + 4 m D); scoring adds the scored uint8 images and chunks of float32 pixels beside the components.
    Plus MEMORY_HEADROOM for the allocator and BLAS buffers."""
    fit, score = _fit_and_score_bytes(n, pixels, n_scored)
    return int((1 + MEMORY_HEADROOM) * (n_scored * pixels + max(fit, score)))


def fit_transient_bytes(n: int, pixels: int, n_scored: int = 0) -> int:
    """Of `memory_bytes`, what the fit frees before scoring: its data matrix and eigenproblem beyond scoring's
    arrays (the components stay)."""
    fit, score = _fit_and_score_bytes(n, pixels, n_scored)
    return int((1 + MEMORY_HEADROOM) * max(fit - score, 0))


def _fit_and_score_bytes(n: int, pixels: int, n_scored: int) -> tuple[int, int]:
    m = min(n, pixels)
    fit = 5 * n * pixels + max(12 * m * m, 4 * m * m + 4 * m * pixels)
    score = 4 * m * pixels + min(n_scored, SCORE_CHUNK) * pixels * 4 * 4  # 4 float32 arrays
    return fit, score


def exact_pca(features: np.ndarray, n_components: float, whiten: bool) -> Any:
    """A fitted scikit-learn `PCA` (same attributes as `svd_solver="full"`) from the eigendecomposition of the
    smaller symmetric matrix of `features` (N x D float32; centred in place: the caller's array is consumed)."""
    from scipy.linalg import eigh
    from sklearn.decomposition import PCA  # here: planning a run must not pay for it

    n, pixels = features.shape
    mean = features.mean(axis=0, dtype=np.float64).astype(np.float32)
    features -= mean
    gram = n <= pixels
    matrix = features @ features.T if gram else features.T @ features  # m x m, float32, symmetric
    # its transpose is the same matrix in Fortran order: LAPACK overwrites it in place instead of copying it
    values, vectors = eigh(matrix.T, overwrite_a=True, check_finite=False, driver=EIGH_DRIVER)
    del matrix
    order = np.argsort(values)[::-1]
    values = np.clip(values[order], 0.0, None).astype(np.float64)
    variance = values / max(n - 1, 1)
    total = variance.sum()
    ratio = variance / total if total > 0 else np.zeros_like(variance)
    if 0 < n_components < 1:  # scikit-learn's rule for a fraction of variance
        k = int(np.searchsorted(np.cumsum(ratio), n_components, side="right") + 1)
    else:
        k = int(n_components)
    k = max(1, min(k, len(values)))
    kept = np.ascontiguousarray(vectors[:, order[:k]].T)  # k x m
    del vectors
    if gram:  # V_k = U_k^T X / s_k: each component from the data and its Gram eigenvector
        singular = np.sqrt(np.maximum(values[:k], np.finfo(np.float32).tiny)).astype(np.float32)
        components = kept @ features
        components /= singular[:, None]
        del kept
    else:
        components = kept
    pca = PCA(n_components=n_components if 0 < n_components < 1 else k, whiten=whiten, svd_solver="full")
    pca.mean_ = mean
    pca.components_ = components.astype(np.float32, copy=False)
    pca.explained_variance_ = variance[:k].astype(np.float32)
    pca.explained_variance_ratio_ = ratio[:k].astype(np.float32)
    pca.singular_values_ = np.sqrt(values[:k]).astype(np.float32)
    pca.noise_variance_ = float(variance[k:].mean()) if k < min(n, pixels) else 0.0
    pca.n_components_, pca.n_samples_, pca.n_features_in_ = k, n, pixels
    return pca


def last_level_cache_bytes(default: int = 32 * 2**20) -> int:
    """The CPU's largest cache in bytes (Linux sysfs), else `default`."""
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = path.read_text().strip().upper()
        with contextlib.suppress(ValueError):
            sizes.append(int(text[:-1]) * {"K": 2**10, "M": 2**20, "G": 2**30}[text[-1]] if text[-1] in "KMG"
                         else int(text))
    return max(sizes, default=default)


def _time_eigh(side: int, rng: np.random.Generator) -> float:
    from scipy.linalg import eigh

    from bench.core.cost import timed

    half = rng.random((side, side), dtype=np.float32)
    matrix = np.asfortranarray(half + half.T)
    del half
    return timed(lambda: eigh(matrix, overwrite_a=True, check_finite=False, driver=EIGH_DRIVER), torch.device("cpu"))


def eigensolver_seconds(largest: int) -> Any:
    """A function m -> predicted seconds of `exact_pca`'s eigensolver (EIGH_DRIVER, float32, in place) on an
    m x m symmetric matrix, for m up to `largest`. Up to 2 x the smaller timed side: c m^3 + d m^2 through two timed
    solves (EIGH_TIMED_SIDES). Beyond, the solve is timed once where its matrix clearly outgrows the last-level
    cache (EIGH_PAST_CACHE; or at `largest`, if smaller) and scaled by m^3: seconds per m^3 change with m while the
    matrix fits in the cache and level off once it does not, so small solves alone mispredicted ChestX-ray14's
    10,000 x 10,000 solve (with `evr`, 2-3x too short)."""
    rng = np.random.default_rng(0)
    times = [_time_eigh(side, rng) for side in EIGH_TIMED_SIDES]
    (m1, m2), (t1, t2) = EIGH_TIMED_SIDES, times
    cubic = (t2 - t1 * (m2 / m1) ** 2) / (m2**3 - m1 * m2**2)
    square = (t1 - cubic * m1**3) / m1**2

    def small(m: int) -> float:
        if cubic <= 0:  # noisy timings: the larger solve's seconds per m^3
            return t2 * (m / m2) ** 3
        return max(cubic * m**3 + square * m**2, 0.0)

    side = min(largest, int(EIGH_PAST_CACHE * math.sqrt(last_level_cache_bytes() / 4)))  # float32 entries
    if side <= 2 * m2:
        return small
    seconds = _time_eigh(side, rng)
    return lambda m: small(m) if m <= 2 * m2 else seconds * (m / side) ** 3


class PCADetector(Detector):
    """Fits PCA on known-normal images; the score is the mean squared error of the reconstruction."""

    name = "pca"
    display_name = "PCA"
    summary = "PCA reconstruction error (scikit-learn); the sanity baseline"
    uses_unlabeled = False
    config_class = PCAConfig
    resources = RunResources(gpus=0.0)  # scikit-learn on the CPU: holding a GPU would only idle it
    presets = {
        "paper": PCAConfig(),
        "fast": PCAConfig(),
        "smoke": PCAConfig(),
        "tiny": PCAConfig(),  # PCA fits in a second at any of these sizes
    }

    def _fit(self, data: TrainData, val: Any | None) -> None:
        images = data.normal.images
        if len(images) > self.config.max_train_images:
            keep = np.random.default_rng(self.seed).choice(len(images), self.config.max_train_images, replace=False)
            images = images[np.sort(keep)]
        n_components = self.config.n_components
        if n_components >= 1:
            n_components = int(min(n_components, len(images), int(np.prod(images.shape[1:]))))
        self.pca_ = exact_pca(_flatten(images), n_components, self.config.whiten)

    def _residuals(self, images: ImageSet) -> Any:
        """(start, features, reconstruction) per chunk of SCORE_CHUNK images."""
        for start in range(0, len(images), SCORE_CHUNK):
            features = _flatten(images.images[start : start + SCORE_CHUNK])
            yield start, features, self.pca_.inverse_transform(self.pca_.transform(features))

    def _score(self, images: ImageSet) -> np.ndarray:
        scores = np.empty(len(images), dtype=np.float32)
        for start, features, restored in self._residuals(images):
            scores[start : start + len(features)] = _residual_scores(features, restored)
        return scores

    def _anomaly_maps(self, images: ImageSet) -> np.ndarray:
        shape = images.images.shape
        maps = np.empty((len(images), *shape[2:]), dtype=np.float32)
        for start, features, restored in self._residuals(images):
            maps[start : start + len(features)] = _residual_maps(features, restored, shape[1:])
        return maps

    def _scores_and_maps(self, images: ImageSet) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each chunk's scores and maps from one projection."""
        for _, features, restored in self._residuals(images):
            yield _residual_scores(features, restored), _residual_maps(features, restored, images.images.shape[1:])

    @classmethod
    def cost_probe(cls, config: PCAConfig, data: Any, device: torch.device) -> Any:
        """Fits on random samples of two sizes at the training set's image size, modelled as a fixed part, a part
        proportional to the products' cost N D m (m = min(N, D)) and the eigensolver on an m x m matrix
        (`eigensolver_seconds`), scaled to the N images the fit will use (D pixels per image). Peak memory: the
        probe's measured peak plus what `memory_bytes` adds from the sample's size to the full size."""
        from bench.core.cost import CostProbe, peak_memory, random_images, timed

        n_train = min(data.count("train_normal"), config.max_train_images)
        n_small = max(2, min(n_train, SMALL_SAMPLE_IMAGES))
        n_sample = max(n_small, min(n_train, SAMPLE_IMAGES))
        pixels = data.channels * data.size**2

        def product_cost(n: int) -> float:  # the Gram (or covariance) product and the components: N D m
            return n * pixels * min(n, pixels)

        cpu = torch.device("cpu")
        detector = cls(config, seed=0, device="cpu")
        with peak_memory(cpu) as peak:
            few = TrainData(random_images(n_small, data.channels, data.size, seed=1))
            first = timed(lambda: detector._fit(few, None), cpu)  # with the first call's imports, as a run's fit
            small = timed(lambda: detector._fit(few, None), cpu)
            sample = random_images(n_sample, data.channels, data.size)
            large = timed(lambda: detector._fit(TrainData(sample), None), cpu)
            per_image = timed(lambda: detector._score(sample), cpu) / n_sample
        eigh_seconds = eigensolver_seconds(min(max(n_train, 2), pixels))
        # fit seconds = fixed + per_cost x N D m + the eigensolver at m. The fixed part (with the first call's
        # imports) dominates at small N, where scaling one fit by its cost overestimated a 600-image fit 20-fold;
        # the eigensolver costs ~10x more per m^3 than the product per N D m and dominates at full size (ChestX-ray14's
        # 10,000 images: a 876 s fit measured where one shared cost predicted 348 s), so it is timed by itself.
        small_rest = max(small - eigh_seconds(min(n_small, pixels)), 0.0)
        large_rest = max(large - eigh_seconds(min(n_sample, pixels)), 0.0)
        gain = product_cost(n_sample) - product_cost(n_small)
        per_cost = ((large_rest - small_rest) / gain if gain > 0 and large_rest > small_rest
                    else large_rest / product_cost(n_sample))
        fixed = max(first - eigh_seconds(min(n_small, pixels)) - per_cost * product_cost(n_small), 0.0)
        n_fit = max(n_train, 2)
        seconds = fixed + per_cost * product_cost(n_fit) + eigh_seconds(min(n_fit, pixels))
        scored = data.count("test") + data.count("val")
        grown = memory_bytes(n_train, pixels, scored) - memory_bytes(n_sample, pixels, n_sample)
        peak_mb = None if peak.mb is None else peak.mb + max(grown, 0) / 2**20
        kept = min(n_train, pixels)  # components are at most min(N, D), each D float32 values, plus the mean
        return CostProbe(parameters=None, seconds_per_step=seconds,
                         steps=1, step=f"fit on {n_train:,} images", peak_memory_mb=peak_mb,
                         fit_transient_mb=fit_transient_bytes(n_train, pixels, scored) / 2**20,
                         state_bytes=4 * pixels * (kept + 2),
                         extra_seconds=per_image * scored,
                         notes=(f"timed on {n_small} and {n_sample} images and the eigensolver on its own, scaled to "
                                "N; memory: the probe's peak plus the data matrix and eigenproblem at N",))

    def state_dict(self) -> dict[str, Any]:
        pca = self.pca_
        return {
            "mean": torch.from_numpy(pca.mean_),
            "components": torch.from_numpy(pca.components_),
            "explained_variance": torch.from_numpy(pca.explained_variance_),
            "n_components": int(pca.n_components_),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        from sklearn.decomposition import PCA  # here: planning a run must not pay for it
        pca = PCA(n_components=int(state["n_components"]), whiten=self.config.whiten)
        pca.mean_ = state["mean"].numpy()
        pca.components_ = state["components"].numpy()
        pca.explained_variance_ = state["explained_variance"].numpy()
        pca.n_components_ = int(state["n_components"])
        pca.n_features_in_ = pca.components_.shape[1]
        self.pca_ = pca
