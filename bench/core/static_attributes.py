"""Literal class attributes read from a class's source, without importing it.

`bench list` shows each plugin's summary and setting, which live on the plugin's class; importing the classes would
import torch (seconds). Parsing the modules with `ast` gives the same values wherever they are plain literals. The
reader follows the bases (same module, `from x import Name`, `import x` + `x.Name`) and resolves attributes in
method resolution order (C3), as Python does. Whatever it cannot follow with certainty (a computed value, a class
decorator, a metaclass, `__init_subclass__`, a base without source, an attribute set after the class body) makes it
answer None, and the caller imports the class instead. Standard-library bases (ABC, Generic) count as contributing
nothing: they cannot hold a plugin's metadata.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import importlib.util
import sys
from collections.abc import Collection
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

_NOT_LITERAL = object()  # bound in the class body to something that is not a literal
_STANDARD_METACLASSES = {("abc", "ABCMeta")}


class Unreadable(Exception):
    """The source cannot settle the attribute values with certainty."""


@dataclasses.dataclass(frozen=True)
class _ClassSource:
    key: tuple[str, str]  # (module, class name)
    attributes: dict[str, Any]  # name -> literal value or _NOT_LITERAL
    bases: tuple[tuple[str, str], ...]


def read_class_attributes(target: str, names: Collection[str], *, own: Collection[str] = ()) -> dict[str, Any] | None:
    """The values of `names` on the class `target` ("module:Class"), as attribute lookup would find them, read from
    source only; those also in `own` only where the class body itself sets them (`vars(cls)`). Names bound nowhere
    are left out; None when the source cannot settle a value."""
    module, _, qualname = target.partition(":")
    try:
        order = _linearize(_locate_class(module, qualname))
    except (Unreadable, OSError, SyntaxError, ValueError):
        return None
    found: dict[str, Any] = {}
    for key in order:
        attributes = _class_source(key).attributes
        for name in names:
            if name not in found and name in attributes and (key == order[0] or name not in own):
                if attributes[name] is _NOT_LITERAL:
                    return None
                found[name] = attributes[name]
    return found


def _is_standard(module: str) -> bool:
    return module.partition(".")[0] in sys.stdlib_module_names or module == "builtins"


def find_spec_without_import(name: str) -> ModuleSpec | None:
    """The module's spec, found as `import` would find it but without executing any parent package."""
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__spec__", None)
    parent = name.rpartition(".")[0]
    path = None
    if parent:
        parent_spec = find_spec_without_import(parent)
        if parent_spec is None or parent_spec.submodule_search_locations is None:
            return None
        path = list(parent_spec.submodule_search_locations)
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None)
        spec = find(name, path) if find is not None else None
        if spec is not None:
            return spec
    return None


@dataclasses.dataclass(frozen=True)
class _ModuleSource:
    name: str
    package: str  # what relative imports resolve against
    classes: dict[str, ast.ClassDef]
    imported: dict[str, tuple[str, str | None]]  # local name -> (module, attribute or None for `import module`)
    patched: frozenset[str]  # names whose attributes module-level code assigns (`Name.attr = ...`)


@functools.cache
def _module_source(name: str) -> _ModuleSource:
    spec = find_spec_without_import(name)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise Unreadable(f"no Python source for module {name}")
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"), spec.origin)
    package = name if spec.submodule_search_locations is not None else name.rpartition(".")[0]
    classes: dict[str, ast.ClassDef] = {}
    imported: dict[str, tuple[str, str | None]] = {}
    patched: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = node
        elif isinstance(node, ast.ImportFrom):
            source = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level \
                else node.module or ""
            for alias in node.names:
                imported[alias.asname or alias.name] = (source, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.partition(".")[0]
                imported[local] = (alias.name if alias.asname else local, None)
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            patched |= {t.value.id for t in targets if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)}
    return _ModuleSource(name, package, classes, imported, frozenset(patched))


def _locate_class(module: str, name: str, depth: int = 0) -> tuple[str, str]:
    """(module, class name) where the class `name`, as seen from `module`, is defined (following re-exports)."""
    if depth > 20:
        raise Unreadable(f"import chain too long at {module}.{name}")
    if _is_standard(module):
        return module, name
    source = _module_source(module)
    if name in source.classes:
        return module, name
    if name in source.imported:
        origin, attribute = source.imported[name]
        if attribute is None:
            raise Unreadable(f"{module}.{name} is a module, not a class")
        return _locate_class(origin, attribute, depth + 1)
    raise Unreadable(f"no top-level class {name} in {module}")


def _resolve_base(module: _ModuleSource, node: ast.expr) -> tuple[str, str]:
    if isinstance(node, ast.Subscript):  # Generic[T], Protocol[T]
        return _resolve_base(module, node.value)
    if isinstance(node, ast.Name):
        return _locate_class(module.name, node.id)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):  # module.Class
        origin = module.imported.get(node.value.id)
        if origin is not None:  # `import pkg.mod` or `from pkg import mod`
            return _locate_class(origin[0] if origin[1] is None else f"{origin[0]}.{origin[1]}", node.attr)
    raise Unreadable(f"cannot follow base {ast.unparse(node)} in {module.name}")


def _literal(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL


def _body_attributes(cls: ast.ClassDef) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for statement in cls.body:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if not isinstance(target, ast.Name):
                    raise Unreadable(f"class {cls.name} assigns to {ast.unparse(target)}")
                attributes[target.id] = _literal(statement.value)
        elif isinstance(statement, ast.AnnAssign):
            if not isinstance(statement.target, ast.Name):
                raise Unreadable(f"class {cls.name} assigns to {ast.unparse(statement.target)}")
            if statement.value is not None:
                attributes[statement.target.id] = _literal(statement.value)
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            attributes[statement.name] = _NOT_LITERAL
        elif not isinstance(statement, ast.Expr | ast.Pass):  # docstrings, `...`
            raise Unreadable(f"class {cls.name} has a {type(statement).__name__} statement in its body")
    return attributes


@functools.cache
def _class_source(key: tuple[str, str]) -> _ClassSource:
    module_name, name = key
    if _is_standard(module_name):
        return _ClassSource(key, {}, ())
    module = _module_source(module_name)
    cls = module.classes[name]
    if cls.decorator_list:
        raise Unreadable(f"class {name} is decorated")
    if name in module.patched:
        raise Unreadable(f"{module_name} assigns attributes of {name} after its body")
    for keyword in cls.keywords:
        if keyword.arg != "metaclass" or _resolve_base(module, keyword.value) not in _STANDARD_METACLASSES:
            raise Unreadable(f"class {name} takes keyword {keyword.arg}")
    attributes = _body_attributes(cls)
    if "__init_subclass__" in attributes:
        raise Unreadable(f"class {name} defines __init_subclass__")
    return _ClassSource(key, attributes, tuple(_resolve_base(module, base) for base in cls.bases))


def _linearize(key: tuple[str, str]) -> list[tuple[str, str]]:
    """The C3 method resolution order of the class `key` (without `object`)."""
    bases = _class_source(key).bases
    sequences = [_linearize(base) for base in bases] + [list(bases)]
    order = [key]
    while sequences := [s for s in sequences if s]:
        for sequence in sequences:
            head = sequence[0]
            if not any(head in other[1:] for other in sequences):
                break
        else:
            raise Unreadable(f"no consistent method resolution order for {key[0]}.{key[1]}")
        order.append(head)
        sequences = [s[1:] if s[0] == head else s for s in sequences]
    return order
