"""The static list of anomalib image models (models.toml) and the `anomalib:<name>` family built from it.

Nothing here imports anomalib: `bench list` and name resolution stay fast. The registry finds the family through the
entry point `anomalib = bench.methods.anomalib_models.catalog:register_family` (group `bench.method_families`).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from bench.core.errors import BenchError
from bench.core.registry import Entry, Registry

CATALOG_FILE = Path(__file__).with_name("models.toml")
FAMILY = "anomalib"
DEFAULT_EPOCHS = 100  # where neither the model's trainer_arguments nor anomalib's example config set any


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    """One anomalib image model as this adapter knows it."""

    key: str  # folder under anomalib.models.image, e.g. "reverse_distillation"
    class_name: str  # e.g. "ReverseDistillation"
    summary: str
    downloads: str = ""
    epochs: int | None = None
    args: dict[str, Any] = dataclasses.field(default_factory=dict)
    smoke_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    image_size: int | None = None  # an input size the model needs, whatever the data set's
    batch_size: int | None = None  # a training batch size the model needs
    val_from_train: bool = False
    unsupported: str = ""

    @property
    def supported(self) -> bool:
        return not self.unsupported


def anomalib_origin() -> str:
    """`anomalib <installed version>`, read from the package metadata (no import)."""
    try:
        return f"anomalib {version('anomalib')}"
    except PackageNotFoundError:
        return "anomalib (not installed)"


@functools.cache
def models() -> dict[str, ModelInfo]:
    """Every anomalib image model, by key, in catalog order."""
    table = tomllib.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    return {
        key: ModelInfo(key=key, class_name=row["class"], summary=row["summary"], downloads=row.get("downloads", ""),
                       epochs=row.get("epochs"), args=dict(row.get("args", {})),
                       smoke_args=dict(row.get("smoke_args", {})), image_size=row.get("image_size"),
                       batch_size=row.get("batch_size"),
                       val_from_train=bool(row.get("val_from_train", False)), unsupported=row.get("unsupported", ""))
        for key, row in table.items()
    }


def model_info(key: str) -> ModelInfo:
    """The catalog row for `key`; an unknown key suggests the closest ones, an unsupported one says why."""
    known = models()
    if key not in known:
        by_class = {info.class_name.lower(): k for k, info in known.items()}
        if key.lower() in by_class:
            key = by_class[key.lower()]
        else:
            close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
            hint = f" Did you mean {', '.join(f'{FAMILY}:{c}' for c in close)}?" if close else ""
            raise BenchError(f"unknown anomalib model {key!r}.{hint} Known: {', '.join(known)}")
    info = known[key]
    if not info.supported:
        raise BenchError(f"{FAMILY}:{key} ({info.class_name}) is not supported here: {info.unsupported}")
    return info


def family_entry(member: str, origin: str = "built-in") -> Entry:
    """Registry entry for `anomalib:<member>` (the class is built on import, see family.py)."""
    info = model_info(member)
    name = f"{FAMILY}:{info.key}"
    return Entry(name, f"bench.methods.anomalib_models.family:{info.key}", summary=info.summary,
                 origin=f"{origin} ({anomalib_origin()})", uses_unlabeled=False, in_all=False, display_name=name)


def family_members(origin: str = "built-in") -> list[Entry]:
    """Every catalog model as a listing entry; unsupported ones say why and have no setting."""
    origin = f"{origin} ({anomalib_origin()})"
    return [Entry(f"{FAMILY}:{key}", f"bench.methods.anomalib_models.family:{key}",
                  summary=f"UNSUPPORTED: {info.unsupported}" if info.unsupported else info.summary,
                  origin=origin, uses_unlabeled=None if info.unsupported else False, in_all=False,
                  display_name=f"{FAMILY}:{key}")
            for key, info in models().items()]


def register_family(methods: Registry, origin: str) -> None:
    """Entry-point hook: `anomalib:<name>` for every catalog model, none of them part of `--methods all`."""
    methods.register_family(FAMILY, lambda member: family_entry(member, origin), lambda: family_members(origin))
