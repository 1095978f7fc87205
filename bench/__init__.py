"""bench: a benchmarking suite for medical-image anomaly detectors.

The Python API (bench.api): `bench.run`, `bench.load_runs`, `bench.prepare`, `bench.create_detector`,
`bench.evaluate`. They load on first use, so `import bench` stays light for the command line.
"""

from typing import Any

from bench.core import DISTRIBUTION, __version__

API = ("run", "plan", "execute", "dry_run", "load_runs", "prepare", "create_detector", "evaluate", "Results", "Plan")

__all__ = ["DISTRIBUTION", "__version__", *API]


def __getattr__(name: str) -> Any:
    if name in API:
        from bench import api

        return getattr(api, name)
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
