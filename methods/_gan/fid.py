"""Label-free FID (Heusel et al. 2017) with pytorch-fid's InceptionV3 (pool3, 2048 features).

The weights come from a local file given as `fid_weights`, or from torch's hub cache
(`$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth`, where pytorch-fid keeps them). When the cache
does not hold them, `check_weights` downloads them there once, before any training starts, if the network allows
(the file is kept only when its sha256 starts with the 6726825d its name carries, torch.hub's convention); offline
(HF_HUB_OFFLINE=1) or with the host unreachable it raises a BenchError at once, saying how to provide them.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from bench.core.downloads import download_unavailable_reason, download_verified
from bench.core.environment import temporary_env
from bench.core.errors import BenchError

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"  # pytorch_fid.inception.FID_WEIGHTS_URL's file
WEIGHTS_URL = f"https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/{WEIGHTS_FILE}"
WEIGHTS_SHA256_PREFIX = "6726825d"  # the hash prefix in the file's name: the first 8 hex digits of its sha256

FeatureFn = Callable[[torch.Tensor], torch.Tensor]


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance (rows are samples) of a feature matrix, in float64."""
    features = np.asarray(features, dtype=np.float64)
    if len(features) < 2:
        raise ValueError("FID needs at least two images per set")
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """`||mu1 - mu2||^2 + Tr(S1 + S2 - 2 sqrt(S1 S2))`, pytorch-fid's numerically stable implementation."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    return float(calculate_frechet_distance(mu1, np.atleast_2d(sigma1), mu2, np.atleast_2d(sigma2)))


def fid_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature matrices (rows are images)."""
    return frechet_distance(*statistics(a), *statistics(b))


def default_weights_path() -> Path:
    """Where pytorch-fid (through torch.hub) keeps the Inception weights."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def missing_weights_message(extra: str = "") -> str:
    return (f"FID checkpoint selection needs pytorch-fid's Inception weights, which are not at "
            f"{default_weights_path()}{extra}. Download {WEIGHTS_URL} (e.g. `curl -L --create-dirs -o "
            f"{default_weights_path()} {WEIGHTS_URL}`) or pass --set fid_weights=PATH; or choose another "
            "policy (--set selection=last, or selection=val-auc where the data set has a validation split).")


def check_weights(weights: Path | None) -> Path:
    """The weights file to use: `weights` when given, else the hub cache's, downloaded there (hash-checked) when
    missing and the network allows; missing and not downloadable now -> BenchError, without waiting."""
    if weights is not None:
        weights = Path(weights).expanduser()
        if not weights.is_file():
            raise BenchError(f"fid_weights={weights} does not exist. " + missing_weights_message())
        return weights
    cached = default_weights_path()
    if not cached.is_file():
        reason = download_unavailable_reason(WEIGHTS_URL)
        if reason:
            raise BenchError(missing_weights_message(f" and {reason}"))
        download_verified(WEIGHTS_URL, cached, WEIGHTS_SHA256_PREFIX)
    return cached


@contextlib.contextmanager
def _torch_home_holding(weights: Path) -> Iterator[None]:
    """A temporary TORCH_HOME whose hub cache holds (a link to) `weights` under the name pytorch-fid asks for,
    so pytorch-fid loads exactly that file and never tries to download."""
    with tempfile.TemporaryDirectory(prefix="bench-fid-") as home:
        checkpoints = Path(home) / "hub" / "checkpoints"
        checkpoints.mkdir(parents=True)
        (checkpoints / WEIGHTS_FILE).symlink_to(weights.resolve())
        with temporary_env("TORCH_HOME", home):
            yield


class InceptionFeatures:
    """Callable: images in [-1, 1] (N, C, H, W) with C in {1, 3} -> (N, 2048) pool3 features (float32)."""

    def __init__(self, device: torch.device | str = "cpu", weights: Path | None = None) -> None:
        from pytorch_fid.inception import InceptionV3

        self.device = torch.device(device)
        self.weights = check_weights(weights)
        try:
            with _torch_home_holding(self.weights):
                model = InceptionV3([InceptionV3.BLOCK_INDEX_BY_DIM[2048]])
        except Exception as exc:  # not a file of Inception weights (a checkpoint of something else, truncated)
            raise BenchError(f"cannot load Inception weights from {self.weights}: {type(exc).__name__}: "
                             f"{exc}") from exc
        self.model = model.to(self.device).eval()

    @torch.no_grad()
    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.device, torch.float32)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        x = (x + 1) / 2  # pytorch-fid takes [0, 1] and rescales to Inception's [-1, 1] itself
        return self.model(x)[0].flatten(1)


def extract(features: FeatureFn, images: torch.Tensor, batch_size: int = 50) -> np.ndarray:
    """Features of `images` in batches, as float64 numpy."""
    parts = [features(images[i:i + batch_size]).double().cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(parts).numpy()
