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
    """The root folder of `dataset` from the config file's `[data]` table, if set."""
    path = config_path()
    if not path.is_file():
        return None
    try:
        settings = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"cannot parse the bench config file {path}: {exc}") from exc
    root = settings.get("data", {}).get(dataset)
    return Path(root).expanduser() if root else None
