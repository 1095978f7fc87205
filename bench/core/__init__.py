"""The core every stage shares: the detector contract and image containers, presets and `--set` parsing, errors,
atomic files, the registry, device choice, progress and cost probes. Imports nothing from a later stage."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "medad-bench"  # the installed distribution; its entry points are the built-in plugins

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
