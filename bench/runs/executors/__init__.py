"""Executors run planned runs: `local` (sequential, in this process) and `ray` (one task per run)."""
