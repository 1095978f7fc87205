"""Training checkpoints: modules, optimisers, iteration, every RNG state and whatever else the loop keeps,
written atomically so a killed process leaves the previous checkpoint intact.

Files in the checkpoint folder:
    last.pt   the full training state at the latest checkpoint (what a resumed run continues from)
    best.pt   the weights chosen by the selection policy so far (modules named by the method), with its value
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.core.files import atomic_torch_save

LAST = "last.pt"
BEST = "best.pt"


def rng_state() -> dict[str, Any]:
    """Every global RNG a training step may draw from: torch (CPU and each CUDA device), NumPy, Python."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"key": np_state[0], "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "python": _python_state_to_plain(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what `rng_state` captured."""
    torch.set_rng_state(state["torch"].cpu())
    np_state = state["numpy"]
    np.random.set_state((np_state["key"], np_state["keys"].numpy().astype(np.uint32), np_state["pos"],
                         np_state["has_gauss"], np_state["gauss"]))
    random.setstate(_python_state_from_plain(state["python"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run a block (e.g. a selection evaluation) without changing any global RNG state afterwards."""
    saved = rng_state()
    try:
        yield
    finally:
        set_rng_state(saved)


def _python_state_to_plain(state: tuple) -> dict[str, Any]:
    version, internal, gauss = state
    return {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss}


def _python_state_from_plain(plain: Mapping[str, Any]) -> tuple:
    return plain["version"], tuple(int(v) for v in plain["internal"].tolist()), plain["gauss"]


def save_checkpoint(path: Path, state: Mapping[str, Any]) -> None:
    """Write `state` atomically (temp file + rename)."""
    atomic_torch_save(dict(state), Path(path))


def load_checkpoint(path: Path) -> dict[str, Any] | None:
    """The state at `path`, or None when there is none. Loaded with weights_only=True."""
    path = Path(path)
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)


def module_states(modules: Mapping[str, torch.nn.Module], names: Any = None) -> dict[str, dict[str, Any]]:
    """CPU copies of the state dicts of `modules` (all, or those in `names`)."""
    chosen = modules if names is None else {n: modules[n] for n in names}
    return {name: {k: v.detach().to("cpu", copy=True) for k, v in m.state_dict().items()}
            for name, m in chosen.items()}


def load_module_states(modules: Mapping[str, torch.nn.Module],
                       states: Mapping[str, Mapping[str, Any]]) -> None:
    """Load each saved state dict into the module of the same name."""
    for name, state in states.items():
        modules[name].load_state_dict(state)
