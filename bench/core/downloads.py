"""Files a run may fetch once (pretrained weights), decided before anything hangs on the network: offline mode
and unreachable hosts fail at once with the reason; what is downloaded is checked against its known hash before
it lands in the cache."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from pathlib import Path

from bench.core.errors import BenchError

PROBE_TIMEOUT_S = 5.0
OFFLINE_VALUES = {"1", "on", "yes", "true"}


def sha256(path: Path) -> str:
    """Hex digest of a file (weights provenance for run.json, download checks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def offline_mode() -> bool:
    """Whether the user asked for no network (HF_HUB_OFFLINE=1, the switch the Hugging Face and timm paths obey)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in OFFLINE_VALUES


def url_unreachable_reason(url: str) -> str | None:
    """Why `url` cannot be fetched now, or None when a HEAD request gets through (torch.hub has no timeout)."""
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=PROBE_TIMEOUT_S).close()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "cannot download now"
        return f"it cannot be downloaded now ({type(exc).__name__}: {exc})"
    return None


def download_unavailable_reason(url: str) -> str | None:
    """Why `url` will not be downloaded now (offline mode, no route), or None when it can be."""
    if offline_mode():
        return "offline mode is on (HF_HUB_OFFLINE=1)"
    return url_unreachable_reason(url)


def download_verified(url: str, destination: Path, sha256_prefix: str) -> Path:
    """Download `url` to `destination` (through a temporary file in its folder, so a cut download never sits at
    the final name) and keep it only when its sha256 starts with `sha256_prefix`; else a BenchError."""
    import torch.hub

    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    try:
        torch.hub.download_url_to_file(url, str(destination), hash_prefix=sha256_prefix, progress=False)
    except RuntimeError as exc:  # torch.hub's hash mismatch (it removes the temporary file)
        raise BenchError(f"the file downloaded from {url} is not the expected one ({exc}); nothing was kept "
                         f"at {destination}") from exc
    except OSError as exc:
        raise BenchError(f"downloading {url} failed ({type(exc).__name__}: {exc})") from exc
    return destination
