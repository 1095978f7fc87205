"""Where a model's pretrained backbone weights come from, decided before anything hangs on the network.

anomalib builds its backbones with `timm.create_model(name, pretrained=True)`, which downloads from the Hugging Face
hub and, offline, retries for about a minute before failing. While an anomalib model is built, `timm_weights`
intercepts those calls: a local file (`backbone_weights=PATH`) or the Hugging Face cache is loaded through timm's own
`pretrained_cfg_overlay={"file": ...}` path (no network); with neither, a reachable hub downloads as usual and an
unreachable one fails at once with `WeightsUnavailable`; `pretrained=false` turns every pretrained request into a
random initialisation. A few models (CFA, CS-Flow, UniNet) build torchvision backbones instead: `torchvision_weights`
loads those from the torch hub cache (TORCH_HOME), fails at once when they are neither cached nor downloadable, and
refuses `pretrained=false` (torchvision gives anomalib no random-backbone switch for them). Each decision is recorded
for run.json.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.core.downloads import sha256, url_unreachable_reason
from bench.core.errors import BenchError

HUB_FILES = ("model.safetensors", "pytorch_model.bin")  # the order timm tries them in
PROBE_TIMEOUT_S = 5.0
__all__ = ["WeightsUnavailable", "sha256", "timm_weights", "torchvision_weights", "url_unreachable_reason"]


class WeightsUnavailable(BenchError):
    """Pretrained weights are needed, not cached, and cannot be downloaded now."""


def _hub_source(model_name: str) -> tuple[str | None, str | None]:
    """(Hugging Face repo id, plain URL) of timm's default pretrained weights for `model_name`."""
    import timm

    cfg = timm.models.get_pretrained_cfg(model_name)
    if cfg is None:
        return None, None
    return getattr(cfg, "hf_hub_id", None), getattr(cfg, "url", None) or None


def cached_hub_file(repo_id: str) -> Path | None:
    """The weights file of `repo_id` in the Hugging Face cache (HF_HOME / HF_HUB_CACHE), if there."""
    from huggingface_hub import constants, try_to_load_from_cache

    for filename in HUB_FILES:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=constants.HF_HUB_CACHE)
        if isinstance(found, str):
            return Path(found)
    return None


def _cached_url_file(url: str | None) -> Path | None:
    if not url:
        return None
    import torch

    candidate = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
    return candidate if candidate.is_file() else None


def hub_unreachable_reason(repo_id: str) -> str | None:
    """Why the hub cannot serve `repo_id` now (offline mode, no route), or None when one request gets through."""
    from huggingface_hub import constants, hf_hub_url
    from huggingface_hub.utils import get_session

    if constants.is_offline_mode():
        return "offline mode is on (HF_HUB_OFFLINE=1)"
    try:
        get_session().head(hf_hub_url(repo_id, HUB_FILES[0]), timeout=PROBE_TIMEOUT_S, follow_redirects=True)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "cannot download now"
        return f"the hub cannot be reached ({type(exc).__name__}: {exc})"
    return None


def unavailable_message(method: str, model_name: str, repo_id: str | None, reason: str) -> str:
    """One message naming the weights and the three ways to provide them."""
    from huggingface_hub import constants

    where = f"Hugging Face repo {repo_id}" if repo_id else "timm's download URL"
    return (
        f"{method} needs ImageNet weights for its timm backbone {model_name!r} ({where}); they are not in the "
        f"Hugging Face cache ({constants.HF_HUB_CACHE}) and {reason}. Provide them in one of three ways: "
        f"(1) fill a Hugging Face cache where there is internet (python -c \"import timm; "
        f"timm.create_model('{model_name}', pretrained=True)\") and point HF_HOME at it here; "
        f"(2) --set backbone_weights=PATH with a local .safetensors/.pth file for {model_name}; "
        f"(3) --set pretrained=false for a random backbone (offline tests only: detection quality drops)."
    )


@contextlib.contextmanager
def timm_weights(method: str, pretrained: bool, weights_file: Path | None,
                 records: list[dict[str, Any]]) -> Iterator[None]:
    """While active, every `timm.create_model(..., pretrained=True)` follows the policy above; `records` receives
    one entry per pretrained request: timm model, source, file and sha256."""
    import timm

    original = timm.create_model

    def create_model(model_name: str, pretrained_flag: bool = False, *args: Any, **kwargs: Any) -> Any:
        wants = bool(kwargs.pop("pretrained", pretrained_flag))
        if not wants:
            return original(model_name, False, *args, **kwargs)
        if not pretrained:
            records.append({"timm_model": model_name, "source": "random initialisation (pretrained=false)"})
            return original(model_name, False, *args, **kwargs)
        repo_id, url = _hub_source(model_name)
        if weights_file is not None:
            path, source = Path(weights_file).expanduser(), "file (backbone_weights)"
            if not path.is_file():
                raise WeightsUnavailable(f"backbone_weights={path} is not a file")
        else:
            path = (cached_hub_file(repo_id) if repo_id else None) or _cached_url_file(url)
            source = f"Hugging Face cache ({repo_id})" if repo_id else f"torch hub cache ({url})"
        if path is None:
            reason = hub_unreachable_reason(repo_id) if repo_id else "timm has no hub copy of them"
            if reason:
                raise WeightsUnavailable(unavailable_message(method, model_name, repo_id, reason))
            model = original(model_name, True, *args, **kwargs)  # downloads into the cache
            path = cached_hub_file(repo_id)  # type: ignore[arg-type]
            source = f"downloaded from the Hugging Face hub ({repo_id})"
        else:
            overlay = dict(kwargs.pop("pretrained_cfg_overlay", None) or {})
            overlay.update(file=str(path), source="")
            try:
                model = original(model_name, True, *args, pretrained_cfg_overlay=overlay, **kwargs)
            except (RuntimeError, KeyError, ValueError) as exc:
                raise WeightsUnavailable(f"{path} does not hold weights for {model_name!r}: {exc}") from exc
        records.append({"timm_model": model_name, "source": source, "file": None if path is None else str(path),
                        "sha256": None if path is None else sha256(path)})
        return model

    timm.create_model = create_model
    try:
        yield
    finally:
        timm.create_model = original


@contextlib.contextmanager
def torchvision_weights(method: str, pretrained: bool, records: list[dict[str, Any]]) -> Iterator[None]:
    """While active, torchvision's `WeightsEnum.get_state_dict` (its only download path) reads the torch hub cache,
    fails fast when the file is missing and unreachable, and refuses `pretrained=false`."""
    import torch
    from torchvision.models import WeightsEnum

    original = WeightsEnum.get_state_dict

    def get_state_dict(self: Any, *args: Any, **kwargs: Any) -> Any:
        url = self.url
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)
        if not pretrained:
            raise WeightsUnavailable(
                f"{method} builds a torchvision backbone with fixed ImageNet weights ({url}) and has no "
                f"random-backbone mode, so pretrained=false cannot apply; drop it and provide {path.name} in "
                f"{path.parent} (TORCH_HOME), or let it download once where there is internet.")
        source = "torch hub cache"
        if not path.is_file():
            reason = url_unreachable_reason(url)
            if reason:
                raise WeightsUnavailable(
                    f"{method} needs torchvision ImageNet weights {path.name} ({url}); they are not in the torch hub "
                    f"cache ({path.parent}) and {reason}. Download the file where there is internet and put it there "
                    f"(or set TORCH_HOME to a folder holding hub/checkpoints/{path.name}).")
            source = "downloaded (torch hub)"
        state = original(self, *args, **kwargs)
        records.append({"torchvision_weights": url, "source": source, "file": str(path), "sha256": sha256(path)})
        return state

    WeightsEnum.get_state_dict = get_state_dict
    try:
        yield
    finally:
        WeightsEnum.get_state_dict = original
