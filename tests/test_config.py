"""Preset overrides: typed parsing, unknown keys, routing of --set to methods and data."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

import pytest

from bench.core.config import apply_overrides, config_from_dict, config_to_dict
from bench.core.errors import BenchError
from bench.core.overrides import parse_assignments, route_overrides


@dataclasses.dataclass(frozen=True)
class Example:
    lr: float = 1e-4
    iterations: int = 10
    amp: bool = True
    selection: Literal["last", "fid", "val-auc"] = "last"
    weights: Path | None = None
    name: str = "x"


@dataclasses.dataclass(frozen=True)
class Other:
    lr: float = 5e-5
    acm: bool = True


@dataclasses.dataclass(frozen=True)
class Data:
    anomaly_ratio: float = 0.6


def test_values_are_parsed_by_field_type():
    config = apply_overrides(Example(), {"lr": "2e-4", "iterations": "1_000", "amp": "false",
                                         "selection": "fid", "weights": "~/w.pth", "name": "y"})
    assert config == Example(2e-4, 1000, False, "fid", Path("~/w.pth").expanduser(), "y")


@pytest.mark.parametrize(("key", "value", "message"), [
    ("iterations", "ten", "not an integer"),
    ("amp", "maybe", "not a boolean"),
    ("selection", "best", "not one of last, fid, val-auc"),
    ("lr", "fast", "not a number"),
])
def test_bad_values_say_what_is_wrong(key, value, message):
    with pytest.raises(BenchError, match=message):
        apply_overrides(Example(), {key: value})


def test_unknown_key_lists_valid_keys():
    with pytest.raises(BenchError, match="valid keys: lr, iterations, amp, selection, weights, name"):
        apply_overrides(Example(), {"learning_rate": "1"})


def test_config_round_trips_through_a_plain_dict():
    config = Example(weights=Path("/tmp/w"))
    assert config_from_dict(Example, config_to_dict(config)) == config


def test_assignments_need_an_equals_sign():
    assert parse_assignments(["a=1", "b.c = x"]) == {"a": "1", "b.c": "x"}
    with pytest.raises(BenchError, match="key=value"):
        parse_assignments(["a"])


def test_plain_key_goes_to_every_method_that_has_it():
    per_method, data = route_overrides({"lr": "1e-3", "acm": "false"}, {"a": Example, "b": Other}, Data)
    assert per_method == {"a": {"lr": "1e-3"}, "b": {"lr": "1e-3", "acm": "false"}}
    assert data == {}


def test_scoped_key_goes_to_one_method_and_data_prefix_to_the_data_set():
    per_method, data = route_overrides({"b.lr": "1", "data.anomaly_ratio": "0.4"}, {"a": Example, "b": Other}, Data)
    assert per_method == {"a": {}, "b": {"lr": "1"}}
    assert data == {"anomaly_ratio": "0.4"}


def test_key_no_selected_method_has_is_an_error():
    with pytest.raises(BenchError, match="no selected method has this key"):
        route_overrides({"acm": "false"}, {"a": Example}, Data)


def test_data_key_without_prefix_gets_a_hint():
    with pytest.raises(BenchError, match="use --set data.anomaly_ratio=0.2"):
        route_overrides({"anomaly_ratio": "0.2"}, {"a": Example}, Data)


def test_scope_must_be_a_selected_method():
    with pytest.raises(BenchError, match="not a selected method"):
        route_overrides({"c.lr": "1"}, {"a": Example}, Data)
