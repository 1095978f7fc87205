"""Methods and data sets by name. Built-ins are lazy "module:Class" entries (heavy imports such as anomalib
happen only when used); third-party packages add entry points in the groups `bench.methods` / `bench.datasets`."""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import warnings
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any

from bench.errors import BenchError


@dataclasses.dataclass(frozen=True)
class Entry:
    """One registered name: what it is, where it comes from, and how to import it."""

    name: str
    target: str | type
    summary: str = ""
    origin: str = "built-in"
    uses_unlabeled: bool | None = None
    in_all: bool = True  # part of `--methods all`

    def load(self, base: type) -> type:
        """Import the target class and check it subclasses `base`."""
        if isinstance(self.target, str):
            module_name, _, attr = self.target.partition(":")
            try:
                obj = getattr(importlib.import_module(module_name), attr)
            except (ImportError, AttributeError) as exc:
                raise BenchError(f"cannot load {self.name!r} from {self.target}: {exc}") from exc
        else:
            obj = self.target
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise BenchError(f"{self.name!r} ({self.target}) is not a {base.__name__} subclass")
        return obj


class Registry:
    """Names -> entries for one kind of plugin, with entry-point discovery and name families (`prefix:name`)."""

    def __init__(self, kind: str, group: str, base_path: str) -> None:
        self.kind = kind
        self.group = group
        self._base_path = base_path
        self._entries: dict[str, Entry] = {}
        self._families: dict[str, tuple[Callable[[str], Entry], Callable[[], list[Entry]]]] = {}
        self._discovered = False

    @property
    def base(self) -> type:
        module_name, _, attr = self._base_path.partition(":")
        return getattr(importlib.import_module(module_name), attr)

    def register(self, name: str, target: str | type, **info: Any) -> None:
        """Add `name`; registering a name twice warns and the later entry wins."""
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
        for ep in entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            origin = f"plugin {dist.name} {dist.version}" if dist is not None else "plugin"
            self.register(ep.name, ep.value, origin=origin)

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

    def __contains__(self, name: str) -> bool:
        try:
            self.entry(name)
        except BenchError:
            return False
        return True


methods = Registry("method", "bench.methods", "bench.detector:Detector")
datasets = Registry("dataset", "bench.datasets", "bench.data.adapter:DatasetAdapter")


def register_method(name: str, **info: Any) -> Callable[[type], type]:
    """Class decorator for in-process plugins: `@register_method("mymethod", summary=...)`."""

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


# Built-ins. Each line names a class that is imported only when used.
methods.register("pca", "bench.methods.pca.detector:PCADetector",
                 summary="PCA reconstruction error (scikit-learn); the sanity baseline", uses_unlabeled=False)

datasets.register("synthetic", "bench.datasets.synthetic:SyntheticDataset",
                  summary="procedural chest-radiograph-like images with opacities (generated locally)")
datasets.register("covidx", "bench.datasets.covidx:COVIDxDataset",
                  summary="COVIDx CXR (COVID-Net): normal vs COVID-19 chest X-rays, HealthyGAN protocol")
datasets.register("chestxray14", "bench.datasets.chestxray14:ChestXray14Dataset",
                  summary="NIH ChestX-ray14: PA views, No Finding vs one finding, HealthyGAN protocol")
datasets.register("rsna", "bench.datasets.rsna:RSNADataset",
                  summary="RSNA Pneumonia chest X-rays: Normal vs Lung Opacity, Med-AD protocol (DDAD/SAGAN)")
datasets.register("vindr", "bench.datasets.vindr:VinDrCXRDataset",
                  summary="VinDr-CXR chest X-rays: No finding vs any finding, Med-AD protocol (DDAD/SAGAN)")
datasets.register("lag", "bench.datasets.lag:LAGDataset",
                  summary="LAG fundus photographs (RGB): non-glaucoma vs glaucoma, Med-AD protocol (DDAD/SAGAN)")
datasets.register("medad", "bench.datasets.medad:MedADDataset",
                  summary="any DDAD/MedIAnomaly Med-AD tree (images/ + data.json), split as data.json lists")


# anomalib baselines (issue #5): three short names with presets, and every anomalib image model as
# `anomalib:<name>` (resolved by the adapter; listed from its static catalog, so listing imports no method code).
def _anomalib_origin() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"anomalib {version('anomalib')}"
    except PackageNotFoundError:
        return "anomalib (not installed)"


def _anomalib_members() -> list[Entry]:
    import tomllib
    from pathlib import Path

    import bench.methods

    table = tomllib.loads((Path(bench.methods.__path__[0]) / "anomalib_models" / "models.toml").read_text("utf-8"))
    return [Entry(f"anomalib:{key}", f"bench.methods.anomalib_models.family:{key}",
                  summary=row["summary"] if "unsupported" not in row else f"UNSUPPORTED: {row['unsupported']}",
                  origin=_anomalib_origin(), uses_unlabeled=None if "unsupported" in row else False, in_all=False)
            for key, row in table.items()]


def _anomalib_member(name: str) -> Entry:
    from bench.methods.anomalib_models.catalog import family_entry

    return family_entry(name)


for _name, _class, _summary in (
    ("padim", "PadimDetector", "PaDiM (anomalib): a Gaussian per patch position over pretrained CNN features"),
    ("patchcore", "PatchcoreDetector", "PatchCore (anomalib): coreset memory bank of patch features, kNN distance"),
    ("ganomaly", "GanomalyDetector", "GANomaly (anomalib): encoder-decoder-encoder GAN, latent distance"),
):
    methods.register(_name, f"bench.methods.anomalib_models.detector:{_class}", summary=_summary,
                     origin=_anomalib_origin(), uses_unlabeled=False)
methods.register_family("anomalib", _anomalib_member, _anomalib_members)
methods.register("sagan", "bench.methods.sagan.detector:SAGANDetector",
                 summary="SAGAN (MICCAI 2024): position-coded patches, attention-gated restoration, pseudo-anomalies",
                 uses_unlabeled=True)
methods.register("healthygan", "bench.methods.healthygan.detector:HealthyGANDetector",
                 summary="HealthyGAN (SASHIMI 2022): mixed -> healthy translation with a mask, score |x - x_hat|",
                 uses_unlabeled=True)
