"""Data-set adapters, importable as `bench.datasets.<name>` (never as a top-level `datasets`)."""
