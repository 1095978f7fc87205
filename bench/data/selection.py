"""Which data sets one `bench run` covers, and where each one's folder is.

`--dataset a,b,...` names data sets; `all-real` stands for every registered data set except the generated ones
whose folder is configured (`--root NAME=PATH`, `$BENCH_DATA_<NAME>` or the config file's `[data]` table).

`--root` rules:
- `--root NAME=PATH` (repeatable): the folder of the selected data set NAME (NAME must be a registered data set,
  so a folder whose name holds `=` still reads as a plain path);
- `--root PATH` (once): with one data set, its folder, exactly as without several data sets; with several, the
  folder of the one data set that reads a folder (every data set but the generated synthetic one) not named by a
  `--root NAME=PATH`. Zero or several such data sets is ambiguous: an error, never a guess.
A data set without `--root` finds its folder as always: `$BENCH_DATA_<NAME>`, else the config file.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.core import registry
from bench.core.errors import BenchError
from bench.core.settings import config_path, data_root_from_config
from bench.data.adapter import DatasetAdapter

ALL_REAL = "all-real"
GENERATED = frozenset({"synthetic"})  # generated into BENCH_CACHE: no folder to configure, never "real"


@dataclasses.dataclass(frozen=True)
class DataSelection:
    """The data sets of one command, in command-line order, with the folders given by `--root`."""

    names: list[str]
    roots: dict[str, Path]  # from --root; a data set not here resolves its folder from env / config
    left_out: list[str] = dataclasses.field(default_factory=list)  # all-real: real data sets without a folder
    all_real: bool = False

    @property
    def several(self) -> bool:
        return len(self.names) > 1 or self.all_real

    def root_source(self, name: str) -> str:
        """Where `name`'s folder comes from, as printed: `/data/rsna (--root)`, `... ($BENCH_DATA_RSNA)`."""
        if name in self.roots:
            return f"{self.roots[name]} (--root)"
        root, source = configured_root(name)
        if root is not None:
            return f"{root} ({source})"
        return "generated in BENCH_CACHE" if name in GENERATED else "no folder configured"

    def describe(self) -> list[str]:
        """The lines printed before a grid over several data sets starts."""
        lines = [f"data sets: {', '.join(f'{n} [{self.root_source(n)}]' for n in self.names)}"]
        if self.all_real:
            lines.append("left out (no folder configured): " + (", ".join(self.left_out) or "none"))
        return lines

    def check_roots(self) -> None:
        """Every data set that reads a folder has one that exists (several data sets: all checked before any is
        decoded, each error one line saying how to configure it)."""
        for name in self.names:
            if name in GENERATED:  # generated into its folder when missing
                continue
            root = self.roots.get(name) or configured_root(name)[0]
            if root is None:
                raise BenchError(f"no folder for data set {name!r}: {how_to_configure(name)}")
            if not root.is_dir():
                raise BenchError(f"data folder {root} for {name!r} does not exist")


def how_to_configure(name: str) -> str:
    return (f"pass --root {name}=PATH, set {registry.get_dataset(name).env_var()}=PATH, or add {name} = \"PATH\" "
            f"to the [data] table of {config_path()}")


def configured_root(name: str) -> tuple[Path | None, str]:
    """`name`'s folder from `$BENCH_DATA_<NAME>` or the config file (and which), without `--root`."""
    env_var = registry.get_dataset(name).env_var()
    if os.environ.get(env_var):
        return Path(os.environ[env_var]).expanduser(), f"${env_var}"
    root = data_root_from_config(name)
    return (root, f"config {config_path()}") if root is not None else (None, "")


def _named_roots(items: Sequence[str]) -> tuple[dict[str, Path], list[str]]:
    """`--root` items split into {NAME: PATH} and plain paths."""
    named: dict[str, Path] = {}
    plain: list[str] = []
    for item in items:
        name, sep, path = item.partition("=")
        if sep and name.strip() in registry.datasets:
            if name.strip() in named:
                raise BenchError(f"--root {name.strip()}=... is given twice")
            if not path.strip():
                raise BenchError(f"--root {item}: the path is empty")
            named[name.strip()] = Path(path.strip()).expanduser()
        else:
            plain.append(item)
    if len(plain) > 1:
        raise BenchError(f"--root is given {len(plain)} plain paths ({', '.join(plain)}); with several data sets "
                         "give each its own: --root NAME=PATH")
    return named, plain


def _expand(text: str, named: dict[str, Path]) -> tuple[list[str], list[str], bool]:
    """`--dataset` -> (names in order, real data sets all-real left out, whether all-real was asked for)."""
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise BenchError("--dataset is empty; give data set names separated by commas, or all-real")
    names: list[str] = []
    left_out: list[str] = []
    all_real = ALL_REAL in items
    for item in items:
        if item != ALL_REAL:
            registry.datasets.entry(item)  # an unknown name: an error with the closest names
            names.append(item)
            continue
        real = [n for n in registry.datasets.names() if n not in GENERATED]
        picked = [n for n in real if n in named or configured_root(n)[0] is not None]
        if not picked:
            raise BenchError(f"--dataset {ALL_REAL}: no data set has a folder configured ({', '.join(real)}); set "
                             f"BENCH_DATA_<NAME>=PATH, add NAME = \"PATH\" to the [data] table of {config_path()} "
                             "($BENCH_CONFIG), or pass --root NAME=PATH")
        names += picked
        left_out += [n for n in real if n not in picked]
    return list(dict.fromkeys(names)), left_out, all_real


def select_datasets(dataset: str, root_items: Sequence[str] | None) -> DataSelection:
    """Parse `--dataset` and `--root` (see the module docstring); every problem is one BenchError line."""
    named, plain = _named_roots(root_items or [])
    names, left_out, all_real = _expand(dataset, named)
    stray = [n for n in named if n not in names]
    if stray:
        raise BenchError(f"--root {stray[0]}=...: {stray[0]} is not among the selected data sets "
                         f"({', '.join(names)})")
    roots = dict(named)
    if plain:
        if len(names) == 1 and not all_real:
            if names[0] in named:
                raise BenchError(f"--root is given twice for {names[0]} ({plain[0]} and {names[0]}=...)")
            roots[names[0]] = Path(plain[0]).expanduser()
        else:
            candidates = [n for n in names if n not in GENERATED and n not in named]
            if all_real or len(candidates) != 1:
                which = ", ".join(candidates) or "none"
                raise BenchError(f"--root {plain[0]} is ambiguous with data sets {', '.join(names)} (data sets "
                                 f"that read a folder and have no --root NAME=PATH: {which}); give --root NAME=PATH")
            roots[candidates[0]] = Path(plain[0]).expanduser()
    return DataSelection(names, roots, left_out, all_real)


def dataset_adapter(dataset: str, root: str | Path | None = None,
                    options: Mapping[str, Any] | None = None) -> DatasetAdapter:
    """A data set's adapter with its folder (None: `$BENCH_DATA_<NAME>`, else the config file) and `data.*`
    options (keys with or without the `data.` prefix; values as text or typed)."""
    cls = registry.get_dataset(dataset)
    values = {str(k).removeprefix("data."): v for k, v in (options or {}).items()}
    return cls(None if root is None else Path(root).expanduser(), cls.make_options(values))
