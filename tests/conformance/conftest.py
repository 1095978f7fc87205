"""One detector per registered method, fitted once per session with its `tiny` preset, for the contract checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.core import registry
from bench.data.adapter import PreparedData
from bench.testing import Subject


@pytest.fixture(scope="session")
def subject(tiny_data: PreparedData, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Subject]:
    """`subject(name)`: the method's check subject on the tiny data; its detector is fitted at the first check
    that needs it and shared by the others (the same-seed check refits once, in its own folder)."""
    subjects: dict[str, Subject] = {}

    def get(name: str) -> Subject:
        if name not in subjects:
            workdir = tmp_path_factory.mktemp(f"check-{name.replace(':', '-')}")
            subjects[name] = Subject(registry.get_method(name), tiny_data, workdir)
        return subjects[name]

    return get
