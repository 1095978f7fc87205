"""User settings from a TOML file: `$BENCH_CONFIG`, default `~/.config/bench/config.toml`.

    [data]
    rsna = "/data/rsna"
    lag = "/data/LAG"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from bench.core.errors import BenchError


def config_path() -> Path:
    return Path(os.environ.get("BENCH_CONFIG", Path.home() / ".config" / "bench" / "config.toml")).expanduser()


def data_root_from_config(dataset: str) -> Path | None:
    """The root folder of `dataset` from the config file's `[data]` table, if set. A BENCH_CONFIG that names no
    file, a file that is not UTF-8 TOML, or a `[data]` entry that is not a table of paths is a BenchError."""
    path = config_path()
    named = "BENCH_CONFIG" in os.environ
    if not path.is_file():
        if named and path.exists():
            raise BenchError(f"BENCH_CONFIG={path} is not a file; point it at a config.toml or unset it")
        if named:
            raise BenchError(f"BENCH_CONFIG={path} does not exist; point it at a config.toml or unset it")
        return None
    try:
        settings = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise BenchError(f"the bench config file {path} is not UTF-8 text; save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"cannot parse the bench config file {path}: {exc}") from None
    except OSError as exc:
        raise BenchError(f"cannot read the bench config file {path}: {exc.strerror or exc}") from None
    table = settings.get("data", {})
    if not isinstance(table, dict):
        raise BenchError(f"the bench config file {path}: [data] must be a table of paths (`[data]` then "
                         f"`{dataset} = \"/path\"`), got {table!r}")
    root = table.get(dataset)
    if root is not None and not isinstance(root, str):
        raise BenchError(f"the bench config file {path}: data.{dataset} must be a path in quotes, got {root!r}")
    return Path(root).expanduser() if root else None
