"""One tree of real run records shared by the report tests (built once per session, read-only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.run_trees import make_tree, registered


@pytest.fixture(scope="session")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[Path]]]:
    """(runs root, {short name: run folders}); tests must not modify it (copy what they change)."""
    root = tmp_path_factory.mktemp("report-runs")
    with registered():
        yield root, make_tree(root)
