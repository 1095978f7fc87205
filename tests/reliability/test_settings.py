"""Defect 4: every numeric setting declares its valid range once, and a value outside it stops the command
before anything trains."""

from __future__ import annotations

import typing

import pytest

from bench.core import registry
from bench.core.config import check_ranges, field_ranges, field_types
from tests.cli_helpers import bench_in_process

METHODS = registry.methods.names()
DATASETS = registry.datasets.names()


def numeric_fields(config_cls: type) -> list[str]:
    return [name for name, typ in field_types(config_cls).items()
            if any(t in (int, float) for t in (typ, *typing.get_args(typ)))]


@pytest.mark.parametrize("name", METHODS)
def test_every_numeric_preset_field_declares_a_range_and_every_preset_lies_inside(name):
    cls = registry.get_method(name)
    assert set(numeric_fields(cls.config_class)) <= set(field_ranges(cls.config_class))
    for preset, config in cls.presets.items():
        check_ranges(config, owner=f"{name} preset {preset}")


@pytest.mark.parametrize("name", DATASETS)
def test_every_numeric_data_option_declares_a_range_and_the_defaults_lie_inside(name):
    options = registry.get_dataset(name).options_class
    assert set(numeric_fields(options)) <= set(field_ranges(options))
    check_ranges(options(), owner=f"data set {name}")


@pytest.mark.parametrize(("setting", "shown"), [
    ("healthygan.iterations=-5", "iterations=-5 (valid: >= 1)"),
    ("image_size=0", "image_size=0 (valid: >= 8 and <= 4096)"),
    ("batch_size=0", "batch_size=0 (valid: >= 1)"),
    ("data.anomaly_ratio=7", "anomaly_ratio=7.0 (valid: >= 0 and <= 1)"),
])
def test_a_value_out_of_range_is_bad_input_before_anything_runs(tmp_path, setting, shown):
    result = bench_in_process("run", "--methods", "pca,healthygan,sagan", "--dataset", "synthetic", "--preset",
                              "smoke", "--root", str(tmp_path / "data"), "--runs", str(tmp_path / "runs"), "--set",
                              setting)
    assert result.returncode == 2
    assert shown in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not (tmp_path / "data").exists() and not (tmp_path / "runs").exists(), "nothing ran"
