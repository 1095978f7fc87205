"""The one suite every registered method must pass (in the spirit of scikit-learn's estimator checks).

A method joins by being registered; nothing here is written per method. The contract checks are
bench.testing's (what plugin authors run with `check_detector`), one test per (method, check), all sharing one
`tiny` fit per method. The learning check (slow) fits the `smoke` preset once per method on the learning split.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from bench.core import registry
from bench.data.adapter import PreparedData
from bench.testing import CHECKS, Check, NotApplicable, check_name, learning_auc

METHODS = registry.methods.names(only_all=True)  # the learning check: every method of `--methods all`
CONTRACT_METHODS = registry.methods.names()  # the contract: every registered method, also those left out of `all`
FLOORS_FILE = Path(__file__).with_name("learning_floors.toml")
DEFAULT_FLOOR = 0.75
MIN_FLOOR = 0.60


def declared_floors() -> dict[str, dict]:
    """{method: {"floor": AUC, "reason": why it is below DEFAULT_FLOOR}} from learning_floors.toml."""
    return tomllib.loads(FLOORS_FILE.read_text(encoding="utf-8"))


def learning_floor(name: str) -> float:
    return float(declared_floors().get(name, {}).get("floor", DEFAULT_FLOOR))


@pytest.mark.parametrize("check", CHECKS, ids=check_name)
# Under pytest-xdist (`make test`), one method's checks run in one process, which fits its detector once.
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xdist_group(f"contract-{n}"))
                                  for n in CONTRACT_METHODS])
def test_method_meets_the_contract(name: str, check: Check, subject) -> None:
    try:
        check(subject(name))
    except NotApplicable as reason:
        pytest.skip(str(reason))


def test_every_contract_check_runs_here() -> None:
    import bench.testing

    defined = {n for n in dir(bench.testing) if n.startswith("check_") and n not in ("check_detector", "check_name")}
    assert defined == {c.__name__ for c in CHECKS}, "a check function is missing from bench.testing.CHECKS"


@pytest.mark.parametrize("name", sorted(declared_floors()))
def test_learning_floors_are_declared_honestly(name: str) -> None:
    declared = declared_floors()[name]
    assert name in METHODS, f"learning_floors.toml names {name!r}, which is not a method in `--methods all`"
    assert set(declared) <= {"floor", "reason"}, f"{name}: unknown keys {set(declared) - {'floor', 'reason'}}"
    assert MIN_FLOOR <= declared["floor"] <= 1.0, f"{name}: floor {declared['floor']} is below {MIN_FLOOR}"
    if declared["floor"] < DEFAULT_FLOOR:
        assert declared.get("reason", "").strip(), f"{name}: a floor below {DEFAULT_FLOOR} needs its reason"


@pytest.mark.slow
@pytest.mark.parametrize("name", METHODS)
def test_learns_to_detect_synthetic_opacities(name: str, learning_data: PreparedData, tmp_path: Path) -> None:
    auc = learning_auc(registry.get_method(name), learning_data, workdir=tmp_path)
    floor = learning_floor(name)
    assert auc >= floor, f"{name}: AUC {auc:.3f} < {floor} on the synthetic learning split"
