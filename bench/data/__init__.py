"""The data engine: adapters produce manifests; manifests are decoded once into a uint8 memmap cache."""

from bench.data.adapter import DataOptions, DatasetAdapter, PreparedData
from bench.data.manifest import SPLITS, manifest_hash

__all__ = ["SPLITS", "DataOptions", "DatasetAdapter", "PreparedData", "manifest_hash"]
