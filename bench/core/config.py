"""Presets as frozen dataclasses: typed fields with declared ranges, values parsed by each field's type, and
overrides applied to a preset. The `--set` grammar that produces the overrides is bench.core.overrides."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, TypeVar

from bench.core.errors import BenchError

ConfigT = TypeVar("ConfigT")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ValueParseError(BenchError):
    """A `--set` value its field's type cannot parse (the message names the key and the value)."""


@dataclasses.dataclass(frozen=True)
class Range:
    """The valid values of a numeric field, declared once on the config dataclass:
    `iterations: Annotated[int, Range(1)]`, or with an alias below (`iterations: PositiveInt`)."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # low < value (else low <= value)

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or value <= self.high

    def __str__(self) -> str:
        low = "" if self.low is None else f"{'>' if self.low_open else '>='} {self.low:g}"
        high = "" if self.high is None else f"<= {self.high:g}"
        return " and ".join(part for part in (low, high) if part)


PositiveInt = Annotated[int, Range(1)]
NonNegativeInt = Annotated[int, Range(0)]
PositiveFloat = Annotated[float, Range(0, low_open=True)]
NonNegativeFloat = Annotated[float, Range(0)]
Fraction = Annotated[float, Range(0, 1)]
ImageSize = Annotated[int, Range(8, 4096)]
Channels = Annotated[int, Range(1, 3)]


def field_ranges(config_cls: type) -> dict[str, Range]:
    """Field name -> its declared Range (fields without one are left out)."""
    hints = typing.get_type_hints(config_cls, include_extras=True)
    ranges = {}
    for field in dataclasses.fields(config_cls):
        found = _range_of(hints[field.name])
        if found is not None:
            ranges[field.name] = found
    return ranges


def _range_of(hint: Any) -> Range | None:
    if typing.get_origin(hint) is Annotated:
        return next((m for m in hint.__metadata__ if isinstance(m, Range)), None)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return next((r for r in map(_range_of, typing.get_args(hint)) if r is not None), None)
    return None


def check_ranges(config: Any, *, owner: str = "preset", keys: Iterable[str] | None = None) -> None:
    """A BenchError naming every field of `config` (or only `keys`) outside its declared range."""
    wanted = None if keys is None else set(keys)
    bad = [f"{name}={getattr(config, name)!r} (valid: {valid})" for name, valid in field_ranges(type(config)).items()
           if (wanted is None or name in wanted) and getattr(config, name) is not None
           and not valid.contains(getattr(config, name))]
    if bad:
        raise BenchError(f"{owner}: value(s) out of range: {'; '.join(bad)}")


def field_types(config_cls: type) -> dict[str, Any]:
    """Field name -> resolved type of a dataclass (works with `from __future__ import annotations`)."""
    hints = typing.get_type_hints(config_cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(config_cls)}


def parse_value(raw: Any, typ: Any, *, key: str = "value") -> Any:
    """Convert `raw` (a CLI string or an already-typed value) to `typ`; a bad value is a BenchError."""
    origin = typing.get_origin(typ)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        if raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null", "")):
            return None
        errors = []
        for arg in args:
            try:
                return parse_value(raw, arg, key=key)
            except BenchError as exc:
                errors.append(str(exc))
        raise ValueParseError(f"{key}={raw!r} fits none of {typ}: " + "; ".join(errors))
    if origin is typing.Literal:
        choices = typing.get_args(typ)
        for choice in choices:
            if str(choice) == str(raw):
                return choice
        raise ValueParseError(f"{key}={raw!r} is not one of {', '.join(map(str, choices))}")
    if origin in (tuple, list):
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        (item_type, *rest) = typing.get_args(typ) or (str,)
        parsed = [parse_value(item, item_type, key=key) for item in items if str(item) != ""]
        return tuple(parsed) if origin is tuple else parsed
    if typ is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueParseError(f"{key}={raw!r} is not a boolean; use true or false")
    if typ in (int, float):
        if isinstance(raw, bool):
            raise ValueParseError(f"{key}={raw!r} is not a number")
        try:
            value = typ(raw) if typ is float else int(str(raw).replace("_", ""))
        except (TypeError, ValueError):
            raise ValueParseError(f"{key}={raw!r} is not {'an integer' if typ is int else 'a number'}") from None
        if typ is float and not math.isfinite(value):
            raise ValueParseError(f"{key}={raw!r} is not a finite number")
        return value
    if typ is Path:
        return Path(raw).expanduser()
    if typ is str:
        return str(raw)
    if typ is Any:
        return raw
    raise ValueParseError(f"{key}: fields of type {typ} cannot be set from the command line")


def apply_overrides(config: ConfigT, overrides: Mapping[str, Any], *, owner: str = "preset") -> ConfigT:
    """Return a copy of `config` with `overrides` applied; an unknown key names the valid ones."""
    types_by_name = field_types(type(config))
    unknown = [k for k in overrides if k not in types_by_name]
    if unknown:
        raise BenchError(
            f"unknown key(s) {', '.join(sorted(unknown))} for {owner}; valid keys: {', '.join(types_by_name)}"
        )
    values = {k: parse_value(v, types_by_name[k], key=k) for k, v in overrides.items()}
    updated = dataclasses.replace(config, **values)
    check_ranges(updated, owner=owner, keys=values)
    return updated


def plain_value(value: Any) -> Any:
    """A field value as JSON holds it (paths as strings, tuples as lists)."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple | list):
        return [plain_value(v) for v in value]
    return value


def config_to_dict(config: Any) -> dict[str, Any]:
    """A JSON-safe dict of a config dataclass (paths as strings, tuples as lists)."""
    return {f.name: plain_value(getattr(config, f.name)) for f in dataclasses.fields(config)}


def differing_values(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """{key: (old value, new value)} for the keys of two `config_to_dict` records whose values differ; keys only one
    side has (an option added or removed between bench versions) are not compared."""
    return {key: (old[key], value) for key, value in new.items()
            if key in old and json.dumps(old[key], default=str) != json.dumps(value, default=str)}


def config_from_dict(config_cls: type[ConfigT], values: Mapping[str, Any]) -> ConfigT:
    """Rebuild a config from `config_to_dict` output; fields missing there keep their defaults."""
    types_by_name = field_types(config_cls)
    known = {k: parse_value(v, types_by_name[k], key=k) for k, v in values.items() if k in types_by_name}
    return config_cls(**known)


