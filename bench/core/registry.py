"""Methods and data sets by name. Built-ins join the way third-party plugins do: as entry points in the groups
`bench.methods` / `bench.datasets` (this distribution's are declared in pyproject.toml). A name family such as
`anomalib:<model>` joins through the group `bench.method_families`: the entry point names a function
`register(registry, origin)` that calls `registry.register_family(...)`.

Metadata (summary, whether it uses unlabeled images, whether it is part of `--methods all`, display name) lives on the
plugin's class only. Listing reads it from the class's source (bench.core.static_attributes) so that `bench list`
imports no plugin code; classes are imported when used (anomalib alone takes about 7 s).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import re
import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import EntryPoint, EntryPoints, entry_points
from typing import Any

from bench.core import DISTRIBUTION
from bench.core.errors import BenchError
from bench.core.static_attributes import read_class_attributes

BUILT_IN = "built-in"
# Class attributes a registry entry exposes, with the value used where a class sets none.
METADATA: dict[str, Any] = {"summary": "", "uses_unlabeled": None, "in_all": True, "display_name": ""}
# Read from the registered class's own body only: a subclass registered under another name (a plugin extending a
# built-in) prints its own name, never its parent's, so two columns of a table cannot share a label.
OWN_METADATA = ("display_name",)


def _import_target(target: str) -> Any:
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


class Entry:
    """One registered name: where it comes from, how to import it, and its metadata.

    Metadata comes from the class (read from source, else by importing it); keyword arguments give it directly, for
    names that have no class of their own until used (family members) and for test doubles.
    """

    def __init__(self, name: str, target: str | type, *, origin: str = BUILT_IN, **metadata: Any) -> None:
        unknown = set(metadata) - set(METADATA)
        if unknown:
            raise TypeError(f"unknown entry metadata {sorted(unknown)}; known: {', '.join(METADATA)}")
        self.name = name
        self.target = target
        self.origin = origin
        self._given = metadata

    def __repr__(self) -> str:
        return f"Entry({self.name!r}, {self.target!r}, origin={self.origin!r})"

    def load(self, base: type) -> type:
        """Import the target class and check it subclasses `base`."""
        if isinstance(self.target, str):
            try:
                obj = _import_target(self.target)
            except (ImportError, AttributeError) as exc:
                raise BenchError(f"cannot load {self.name!r} from {self.target}: {exc}") from exc
        else:
            obj = self.target
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise BenchError(f"{self.name!r} ({self.target}) is not a {base.__name__} subclass")
        return obj

    @functools.cached_property
    def _class_metadata(self) -> dict[str, Any]:
        """The metadata attributes the class sets: from its source if that settles them, else from the class."""
        wanted = [k for k in METADATA if k not in self._given]
        if not wanted:
            return {}
        if isinstance(self.target, str):
            found = read_class_attributes(self.target, wanted, own=OWN_METADATA)
            if found is not None:
                return found
            try:
                cls = _import_target(self.target)
            except Exception as exc:  # noqa: BLE001 - a broken plugin must not break listing; using it raises
                return {"summary": f"(cannot import {self.target}: {exc})"}
        else:
            cls = self.target
        return {k: vars(cls)[k] if k in OWN_METADATA else getattr(cls, k)
                for k in wanted if (k in vars(cls) if k in OWN_METADATA else hasattr(cls, k))}

    def _metadata(self, key: str) -> Any:
        if key in self._given:
            return self._given[key]
        return self._class_metadata.get(key, METADATA[key])

    @property
    def summary(self) -> str:
        return self._metadata("summary")

    @property
    def uses_unlabeled(self) -> bool | None:
        """True: semi-supervised (normal + unlabeled images); False: one-class; None: not known / not a method."""
        return self._metadata("uses_unlabeled")

    @property
    def in_all(self) -> bool:
        """Part of `--methods all`."""
        return self._metadata("in_all")

    @property
    def display_name(self) -> str:
        """The name tables print; the registry name where the class sets none."""
        return self._metadata("display_name") or self.name


Family = tuple[Callable[[str], Entry], Callable[[], list[Entry]]]


@functools.cache
def _entry_points() -> EntryPoints:
    return entry_points()


def _normalise(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def entry_point_origin(ep: EntryPoint, known: dict[int, str] | None = None) -> str:
    """`built-in` for this distribution's entry points, `plugin <distribution> <version>` for any other's.
    `known` remembers each distribution's answer (reading its name parses its METADATA file)."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return "plugin"
    known = {} if known is None else known
    if id(dist) not in known:
        name = dist.name
        known[id(dist)] = BUILT_IN if _normalise(name) == _normalise(DISTRIBUTION) else f"plugin {name} {dist.version}"
    return known[id(dist)]


class Registry:
    """Names -> entries for one kind of plugin, with entry-point discovery and name families (`prefix:name`)."""

    def __init__(self, kind: str, group: str, base_path: str, family_group: str | None = None) -> None:
        self.kind = kind
        self.group = group
        self.family_group = family_group
        self._base_path = base_path
        self._entries: dict[str, Entry] = {}
        self._families: dict[str, Family] = {}
        self._discovered = False

    @property
    def base(self) -> type:
        return _import_target(self._base_path)

    def register(self, name: str, target: str | type, **info: Any) -> None:
        """Add `name` (`info`: origin and metadata, see Entry); registering a name twice warns, the later wins."""
        if name in self._entries:
            warnings.warn(f"{self.kind} {name!r} registered twice; the later entry wins", stacklevel=2)
        self._entries[name] = Entry(name, target, **info)

    def unregister(self, name: str) -> None:
        """Remove `name` (plugins that are unloaded, tests that registered a temporary entry)."""
        self._entries.pop(name, None)

    def register_family(
        self, prefix: str, resolve: Callable[[str], Entry], members: Callable[[], list[Entry]]
    ) -> None:
        """Names `prefix:member` resolved on demand (e.g. every anomalib image model as `anomalib:<name>`)."""
        self._families[prefix] = (resolve, members)

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        origins: dict[int, str] = {}
        for ep in _entry_points().select(group=self.group):
            self.register(ep.name, ep.value, origin=entry_point_origin(ep, origins))
        if self.family_group is None:
            return
        for ep in _entry_points().select(group=self.family_group):
            try:
                register = ep.load()
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not hide the others
                warnings.warn(f"{self.kind} family {ep.name!r} ({ep.value}) cannot be loaded: {exc}", stacklevel=2)
                continue
            register(self, entry_point_origin(ep, origins))

    def entry(self, name: str) -> Entry:
        """The entry for `name`; an unknown name is an error with the closest matches and the full list."""
        self._discover()
        if name in self._entries:
            return self._entries[name]
        prefix, sep, member = name.partition(":")
        if sep and prefix in self._families:
            return self._families[prefix][0](member)
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        families = "".join(f", {p}:<name>" for p in self._families)
        raise BenchError(f"unknown {self.kind} {name!r}.{hint} Known: {', '.join(self.names())}{families}")

    def get(self, name: str) -> type:
        """The class registered under `name` (imported now)."""
        return self.entry(name).load(self.base)

    def names(self, *, only_all: bool = False) -> list[str]:
        """Registered names in registration order (`only_all`: those in `--methods all`)."""
        self._discover()
        return [n for n, e in self._entries.items() if e.in_all or not only_all]

    def entries(self, *, with_families: bool = False) -> Iterator[Entry]:
        """Every entry, optionally followed by the members of each family."""
        self._discover()
        yield from self._entries.values()
        if with_families:
            for _, members in self._families.values():
                yield from members()

    def display_name(self, name: str) -> str:
        """The name tables print for `name`; a name that is not registered (a record of a plugin that is no longer
        installed) prints as itself."""
        try:
            return self.entry(name).display_name
        except BenchError:
            return name

    def __contains__(self, name: str) -> bool:
        try:
            self.entry(name)
        except BenchError:
            return False
        return True


methods = Registry("method", "bench.methods", "bench.core.detector:Detector", family_group="bench.method_families")
datasets = Registry("dataset", "bench.datasets", "bench.data.adapter:DatasetAdapter")


def register_method(name: str, **info: Any) -> Callable[[type], type]:
    """Class decorator for in-process plugins: `@register_method("mymethod")` (metadata is read from the class)."""

    def decorate(cls: type) -> type:
        methods.register(name, cls, **info)
        return cls

    return decorate


def get_method(name: str) -> type:
    """The Detector class registered as `name`."""
    return methods.get(name)


def get_dataset(name: str) -> type:
    """The DatasetAdapter class registered as `name`."""
    return datasets.get(name)


def resolve_method_names(spec: str) -> list[str]:
    """`"all"` or `"a,b"` -> validated names (unknown ones raise with suggestions)."""
    if spec.strip() == "all":
        return methods.names(only_all=True)
    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise BenchError("--methods is empty; give method names separated by commas, or 'all'")
    for name in names:
        methods.entry(name)
    return list(dict.fromkeys(names))
