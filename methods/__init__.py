"""Method plugins, importable as `bench.methods.<name>` (never as a top-level `methods`)."""
