"""The `bench` command line: a thin Typer shell over bench's Python API and the report functions."""

from bench.cli.app import app, main

__all__ = ["app", "main"]
