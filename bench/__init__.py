"""bench: a benchmarking suite for medical-image anomaly detectors."""

from importlib.metadata import PackageNotFoundError, version

DISTRIBUTION = "medad-bench"  # the installed distribution; its entry points are the built-in plugins

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
