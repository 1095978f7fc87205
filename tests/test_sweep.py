"""`--set key=v1,v2` sweeps: how values split, the grid, and that each point plans the runs a single command would."""

from __future__ import annotations

import dataclasses

import pytest

from bench.core import registry
from bench.core.errors import BenchError
from bench.core.overrides import split_values
from bench.core.progress import Progress
from bench.datasets.synthetic import SyntheticDataset, SyntheticOptions
from bench.methods.anomalib_models.config import PadimConfig
from bench.methods.pca.detector import PCAConfig
from bench.runs.executors.grid import prepare_groups
from bench.runs.plan import plan
from bench.runs.sweep import parse_sweep, plan_sweep


@dataclasses.dataclass(frozen=True)
class DataConfig:
    anomaly_ratio: float = 0.6
    pick: tuple[int, ...] = (1, 2)


def test_scalar_values_split_at_commas():
    assert split_values("n_components", "2, 4,8", float) == ("2", "4", "8")
    assert split_values("whiten", "true,false", bool) == ("true", "false")


def test_one_value_is_a_one_point_list():
    assert split_values("n_components", "4", float) == ("4",)


def test_json_and_bracketed_values_are_never_split():
    assert split_values("model_args", '{"flow_steps": 4, "x": 1}', str) == ('{"flow_steps": 4, "x": 1}',)
    assert split_values("anything", "[1,2,3]", None) == ("[1,2,3]",)


def test_tuple_fields_keep_their_commas_and_sweep_at_semicolons():
    assert split_values("layers", "layer1,layer2", tuple[str, ...]) == ("layer1,layer2",)
    assert split_values("layers", "layer1,layer2;layer2,layer3", tuple[str, ...]) == ("layer1,layer2",
                                                                                       "layer2,layer3")
    assert split_values("layers", "a;b", tuple[str, ...] | None) == ("a", "b")


def test_empty_value_in_a_list_is_an_error():
    with pytest.raises(BenchError, match="empty value"):
        split_values("n_components", "2,,4", float)


def test_repeated_values_count_once():
    assert split_values("n_components", "2,4,2", float) == ("2", "4")


def test_the_grid_is_the_product_in_command_line_order():
    sweep = parse_sweep(["n_components=2,4", "data.anomaly_ratio=0.2,0.6", "whiten=false"],
                        {"pca": PCAConfig}, DataConfig)
    assert sweep.swept == ["n_components", "data.anomaly_ratio"]
    assert [tuple(p.values()) for p in sweep.points()] == [("2", "0.2", "false"), ("2", "0.6", "false"),
                                                           ("4", "0.2", "false"), ("4", "0.6", "false")]


def test_field_types_decide_per_key_including_method_scoped_and_data_keys():
    sweep = parse_sweep(["padim.layers=layer1,layer2", "data.pick=1,2;3", "pca.n_components=2,4"],
                        {"pca": PCAConfig, "padim": PadimConfig}, DataConfig)
    assert sweep.values == {"padim.layers": ("layer1,layer2",), "data.pick": ("1,2", "3"),
                            "pca.n_components": ("2", "4")}


def test_each_point_plans_exactly_the_runs_of_the_single_command():
    grid = plan_sweep(["pca"], "synthetic", [0, 1], "smoke", ["n_components=2,4", "data.anomaly_ratio=0.2,0.6"])
    assert len(grid.points) == 4 and len(grid.specs) == 8 and grid.runs_per_point == [2, 2, 2, 2]
    alone = plan(["pca"], "synthetic", [0, 1], "smoke", {"n_components": "4", "data.anomaly_ratio": "0.2"})
    assert [s for s in grid.specs if s.overrides == {"n_components": "4"}
            and s.data_overrides == {"anomaly_ratio": "0.2"}] == alone
    assert len({s.config_id for s in grid.specs}) == 4  # each point has its own run ids


def test_a_method_the_swept_key_does_not_reach_runs_once():
    grid = plan_sweep(["pca", "padim"], "synthetic", [0], "smoke", ["pca.n_components=2,4"])
    assert [(s.method, dict(s.overrides)) for s in grid.specs] == [
        ("pca", {"n_components": "2"}), ("padim", {}), ("pca", {"n_components": "4"})]
    assert grid.runs_per_point == [2, 1]
    assert [grid.label(s) for s in grid.specs] == ["pca.n_components=2", "", "pca.n_components=4"]


def test_runs_are_grouped_by_the_data_they_need():
    grid = plan_sweep(["pca"], "synthetic", [0], "smoke", ["n_components=2,4", "data.anomaly_ratio=0.2,0.6"])
    groups = grid.groups()
    assert [dict(data) for data, _ in groups] == [{"anomaly_ratio": "0.2"}, {"anomaly_ratio": "0.6"}]
    assert [[s.overrides["n_components"] for s in specs] for _, specs in groups] == [["2", "4"], ["2", "4"]]


def test_a_bad_value_in_any_point_stops_before_anything_runs():
    with pytest.raises(BenchError, match="n_components"):
        plan_sweep(["pca"], "synthetic", [0], "smoke", ["n_components=2,-1"])


@dataclasses.dataclass(frozen=True)
class NotedOptions(SyntheticOptions):
    note: str = ""  # a data option that changes nothing in the data


class NotedSynthetic(SyntheticDataset):
    name = "synthetic_noted"
    options_class = NotedOptions


class LogProgress(Progress):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, message: str) -> None:
        self.lines.append(message)


def test_a_data_setting_that_changes_no_data_is_named(private_cache):
    registry.datasets.register(NotedSynthetic.name, NotedSynthetic)
    try:
        grid = plan_sweep(["pca"], NotedSynthetic.name, [0], "smoke",
                          ["data.note=a,b", "data.n_normal=8", "data.unlabeled_size=0", "data.n_val=2",
                           "data.n_test=4", "data.generate_size=32", "data.size=16"])
        progress = LogProgress()
        prepared = prepare_groups(grid.groups(), None, progress)
    finally:
        registry.datasets.unregister(NotedSynthetic.name)
    assert len(prepared) == 2 and prepared[0][1].split_id == prepared[1][1].split_id
    (warning,) = [line for line in progress.lines if line.startswith("warning:")]
    assert "{'note': 'b'" in warning and "gave the same data as {'note': 'a'" in warning
