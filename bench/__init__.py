"""bench: a benchmarking suite for medical-image anomaly detectors."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("medad-bench")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
