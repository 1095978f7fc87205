"""Checks every registered data-set adapter must pass."""

from __future__ import annotations

import dataclasses

import pytest

from bench.core import registry
from bench.core.errors import BenchError, DataError
from bench.data.adapter import DataOptions

DATASETS = registry.datasets.names()
DOWNLOADED = [name for name in DATASETS if name != "synthetic"]


@pytest.mark.parametrize("name", DATASETS)
def test_adapter_declares_what_users_need(name):
    cls = registry.get_dataset(name)
    assert cls.name == name
    assert cls.summary and cls.source and cls.layout
    assert cls.channels in (1, 3)
    assert cls.image_size > 0
    assert issubclass(cls.options_class, DataOptions)
    assert dataclasses.is_dataclass(cls.options_class)


@pytest.mark.parametrize("name", DATASETS)
def test_unknown_data_option_is_an_error_listing_valid_keys(name):
    cls = registry.get_dataset(name)
    with pytest.raises(BenchError, match="split_seed"):
        cls.make_options({"no_such_option": "1"})


@pytest.mark.parametrize("name", DOWNLOADED)
def test_missing_root_names_the_source(name, tmp_path, monkeypatch):
    cls = registry.get_dataset(name)
    monkeypatch.delenv(cls.env_var(), raising=False)
    (tmp_path / "empty.toml").write_text("")
    monkeypatch.setenv("BENCH_CONFIG", str(tmp_path / "empty.toml"))
    with pytest.raises(DataError) as error:
        cls(tmp_path / "does-not-exist").verify()
    assert "does not exist" in str(error.value)
    assert cls.source.split()[0] in str(error.value)


@pytest.mark.parametrize("name", DOWNLOADED)
def test_empty_folder_lists_problems(name, tmp_path):
    cls = registry.get_dataset(name)
    problems = cls(tmp_path).problems()
    assert problems, "an empty folder must be reported as missing files"


@pytest.mark.parametrize("name", DOWNLOADED)
def test_root_comes_from_environment(name, tmp_path, monkeypatch):
    cls = registry.get_dataset(name)
    monkeypatch.setenv(cls.env_var(), str(tmp_path))
    assert cls().root == tmp_path
