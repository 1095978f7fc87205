"""The `--set` grammar, in one place: how an item is split into a key and a value, which keys go to a method, to the
data set or to the executor, how one value lists several (a sweep), and the canonical value a run's identity hashes.

Keys:
- `key=value`: every selected method whose preset has `key`;
- `method.key=value`: that method only;
- `data.key=value`: the data set's options;
- `ray.key=value`: the Ray executor (where runs go, not what they compute: never part of a run's identity).

Values are text until a field's declared type parses them (bench.core.config.parse_value). A value that lists
several is a sweep (the field's type decides how it splits):
- a value that starts with `{` or `[` (JSON, a bracketed list) is one value, never split;
- a scalar field (bool, int, float, str, path, a choice) splits at commas: `n_components=2,4`, `acm=true,false`;
- a tuple- or list-typed field (`layers: tuple[str, ...]`) takes its items comma-separated, as without a sweep
  (`layers=layer2,layer3` is one value); its sweep values are separated by semicolons:
  `layers=layer1,layer2;layer2,layer3` (quote it in a shell).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

from bench.core.config import field_types, parse_value, plain_value
from bench.core.errors import BenchError

DATA_PREFIX = "data."
EXECUTOR_PREFIX = "ray."
LIST_SEPARATOR = ","  # between the values of a scalar field's sweep
SEQUENCE_SEPARATOR = ";"  # between the values of a tuple/list field's sweep (its items stay comma-separated)

Scope = Literal["method", "data", "executor"]


@dataclasses.dataclass(frozen=True)
class Assignment:
    """One `--set key=value` as written, and what its key means."""

    key: str
    value: str

    @property
    def scope(self) -> Scope:
        if self.key.startswith(DATA_PREFIX):
            return "data"
        if self.key.startswith(EXECUTOR_PREFIX):
            return "executor"
        return "method"

    @property
    def owner(self) -> str | None:
        """The one method a `method.key` names (None: every method that has the key, or not a method key)."""
        if self.scope != "method":
            return None
        owner, dot, _ = self.key.rpartition(".")
        return owner if dot else None

    @property
    def field(self) -> str:
        """The config field the key sets (`acm` for `sagan.acm`, `anomaly_ratio` for `data.anomaly_ratio`)."""
        return self.key.rpartition(".")[2] if self.scope == "method" else self.key.partition(".")[2]


def parse_item(item: str) -> Assignment:
    """`"key=value"` -> Assignment; an item without `=` or without a key is a usage error."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise BenchError(f"--set expects key=value, got {item!r}")
    return Assignment(key.strip(), value.strip())


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """`["a=1", "b.c=x"]` -> `{"a": "1", "b.c": "x"}`; a key given twice with different values is an error (which
    one was meant?), twice with the same value is once."""
    parsed: dict[str, str] = {}
    for assignment in map(parse_item, items):
        if parsed.get(assignment.key, assignment.value) != assignment.value:
            raise BenchError(f"--set {assignment.key} is given twice ({parsed[assignment.key]!r} and "
                             f"{assignment.value!r}); give it once (k=v1,v2 sweeps several values)")
        parsed[assignment.key] = assignment.value
    return parsed


def by_scope(assignments: Mapping[str, str], scope: Scope) -> dict[str, str]:
    """The assignments of one scope, keyed by field for data and executor keys (`data.size` -> `size`) and as
    written for method keys."""
    chosen = [Assignment(k, v) for k, v in assignments.items() if Assignment(k, v).scope == scope]
    return {(a.key if scope == "method" else a.field): a.value for a in chosen}


def data_options(items: Iterable[str]) -> dict[str, str]:
    """`--set` items of a command about one data set (`bench data prepare/verify`): every key is a data option,
    with or without its `data.` prefix."""
    return {a.key.removeprefix(DATA_PREFIX): a.value for a in map(parse_item, items)}


def executor_settings(items: Iterable[str], executor: str) -> tuple[dict[str, str], list[str]]:
    """`--set ray.KEY=VALUE` items (how the executor places runs, not what a run computes, so not part of any run's
    identity) apart from the others: ({KEY: VALUE}, the other items)."""
    settings: dict[str, str] = {}
    rest: list[str] = []
    for item in items:
        assignment = Assignment(item.partition("=")[0].strip(), item.partition("=")[2].strip())
        if assignment.scope != "executor":
            rest.append(item)
            continue
        if executor != "ray":
            raise BenchError(f"--set {item}: ray.* settings apply to --executor ray only")
        settings[assignment.field] = assignment.value
    return settings, rest


def route_overrides(assignments: Mapping[str, str], method_configs: Mapping[str, type], data_config: type | None
                    ) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Split `--set` assignments into per-method and data overrides: `key=v` goes to every selected method whose
    preset has `key`; `method.key=v` to that method only; `data.key=v` to the data set. A key no selected method
    has is an error listing the valid keys."""
    per_method: dict[str, dict[str, str]] = {name: {} for name in method_configs}
    fields_of = {name: set(field_types(cls)) for name, cls in method_configs.items()}
    for key, value in by_scope(assignments, "method").items():
        assignment = Assignment(key, value)
        scope, field = assignment.owner, assignment.field
        if scope is not None:
            if scope not in method_configs:
                raise BenchError(f"--set {key}: {scope!r} is not a selected method (selected: "
                                 f"{', '.join(method_configs)})")
            if field not in fields_of[scope]:
                raise BenchError(f"--set {key}: {scope} has no key {field!r}; valid keys: "
                                 f"{', '.join(sorted(fields_of[scope]))}")
            per_method[scope][field] = value
            continue
        owners = [name for name, names in fields_of.items() if key in names]
        if not owners:
            valid = sorted(set().union(*fields_of.values())) if fields_of else []
            data_hint = ""
            if data_config is not None and key in field_types(data_config):
                data_hint = f" (it is a data-set key: use --set data.{key}={value})"
            raise BenchError(f"--set {key}: no selected method has this key{data_hint}; valid keys: "
                             f"{', '.join(valid)}")
        for name in owners:
            per_method[name][key] = value
    return per_method, by_scope(assignments, "data")


# --- sweeps -----------------------------------------------------------------------------------------------------

def is_sequence_type(typ: Any) -> bool:
    """True for tuple/list fields, also inside `X | None`."""
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        return any(is_sequence_type(arg) for arg in typing.get_args(typ))
    return typing.get_origin(typ) in (tuple, list) or typ in (tuple, list)


def split_values(key: str, raw: str, typ: Any | None) -> tuple[str, ...]:
    """The values of one `--set key=raw` (one value unless it lists several; see the module docstring)."""
    text = raw.strip()
    if text.startswith(("{", "[")):
        return (text,)
    separator = SEQUENCE_SEPARATOR if typ is not None and is_sequence_type(typ) else LIST_SEPARATOR
    if separator not in text:
        return (text,)
    values = [part.strip() for part in text.split(separator)]
    if any(not value for value in values):
        raise BenchError(f"--set {key}={raw}: an empty value in the list (values are separated by {separator!r})")
    return tuple(dict.fromkeys(values))


def key_type(key: str, method_configs: Mapping[str, type], data_config: type | Sequence[type] | None) -> Any | None:
    """The declared type of a `--set` key (`key`, `method.key` or `data.key`); None where no field has it (then
    planning names the valid keys). For a key several methods (or data sets) share, a tuple/list type wins."""
    assignment = Assignment(key, "")
    if assignment.scope == "data":
        configs = [] if data_config is None else [data_config] if isinstance(data_config, type) else data_config
        found = [field_types(cls)[assignment.field] for cls in configs if assignment.field in field_types(cls)]
    elif assignment.owner is not None:
        owner = method_configs.get(assignment.owner)
        return None if owner is None else field_types(owner).get(assignment.field)
    else:
        found = [field_types(cls)[key] for cls in method_configs.values() if key in field_types(cls)]
    return next((t for t in found if is_sequence_type(t)), found[0] if found else None)


# --- identity ---------------------------------------------------------------------------------------------------

def canonical_value(raw: Any, typ: Any, *, key: str = "value") -> Any:
    """The JSON value a run's identity hashes for one setting: the value parsed by its field's type, so `1e-4` and
    `0.0001`, `true` and `yes`, `1_000` and `1000` are one setting."""
    return plain_value(parse_value(raw, typ, key=key))


def canonical_settings(overrides: Mapping[str, Any], config_cls: type | None) -> dict[str, Any]:
    """Every override's canonical value (sorted by key); keys the class does not have (a record from another
    version) stay as written."""
    types_by_name = field_types(config_cls) if config_cls is not None else {}
    return {key: (canonical_value(raw, types_by_name[key], key=key) if key in types_by_name else raw)
            for key, raw in sorted(overrides.items())}
