"""Class attributes read from source: the same answer as Python's attribute lookup where the source settles it,
None (import instead) where it does not, and never executing the module."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from bench.core.static_attributes import read_class_attributes

FIELDS = ("summary", "uses_unlabeled", "in_all", "display_name")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write modules of a throw-away package `sa_pkg` (unique per test) and put it on sys.path."""
    root = tmp_path / "site"
    (root / "sa_pkg").mkdir(parents=True)
    (root / "sa_pkg" / "__init__.py").write_text("raise RuntimeError('the package must not be executed')\n")
    monkeypatch.syspath_prepend(str(root))
    from bench.core import static_attributes

    static_attributes._module_source.cache_clear()
    static_attributes._class_source.cache_clear()

    def write(name: str, source: str) -> str:
        (root / "sa_pkg" / f"{name}.py").write_text(textwrap.dedent(source))
        return f"sa_pkg.{name}"

    yield write
    static_attributes._module_source.cache_clear()
    static_attributes._class_source.cache_clear()


def test_own_and_inherited_literals_follow_the_method_resolution_order(package):
    package("base", '''
        from abc import ABC

        class Base(ABC):
            summary = "base"
            uses_unlabeled = False
            in_all = True

        class Left(Base):
            summary = "left"

        class Right(Base):
            summary = "right"
            uses_unlabeled = True
    ''')
    module = package("plugin", '''
        from .base import Left, Right

        class Diamond(Left, Right):
            """Python's MRO: Diamond, Left, Right, Base."""
            display_name = "Dia" "mond"
    ''')
    assert read_class_attributes(f"{module}:Diamond", FIELDS) == {
        "summary": "left", "uses_unlabeled": True, "in_all": True, "display_name": "Diamond"}


def test_own_names_are_read_from_the_class_body_only(package):
    module = package("owned", """
        class Parent:
            display_name = "Parent"
            summary = "inherited"

        class Child(Parent):
            pass
    """)
    fields = ("summary", "display_name")
    assert read_class_attributes(f"{module}:Child", fields, own=["display_name"]) == {"summary": "inherited"}
    assert read_class_attributes(f"{module}:Parent", fields, own=["display_name"]) == {
        "summary": "inherited", "display_name": "Parent"}


def test_names_set_nowhere_are_left_out(package):
    module = package("plain", "class Plain:\n    summary = 'x'\n")
    assert read_class_attributes(f"{module}:Plain", FIELDS) == {"summary": "x"}


def test_reexported_and_module_attribute_bases_are_followed(package):
    package("deep", "class Deep:\n    in_all = False\n")
    package("shim", "from sa_pkg.deep import Deep as Renamed\n")
    module = package("top", '''
        import sa_pkg.shim
        from sa_pkg import shim as alias

        class ViaAlias(alias.Renamed):
            pass
    ''')
    assert read_class_attributes(f"{module}:ViaAlias", FIELDS) == {"in_all": False}


@pytest.mark.parametrize("source", [
    "SUMMARY = 'computed'\nclass C:\n    summary = SUMMARY\n",
    "class C:\n    @property\n    def summary(self):\n        return 'x'\n",
    "import functools\n@functools.total_ordering\nclass C:\n    summary = 'x'\n",
    "class C:\n    summary = 'x'\nC.summary = 'patched'\n",
    "class C:\n    if True:\n        summary = 'x'\n",
    "class Meta(type):\n    pass\nclass C(metaclass=Meta):\n    summary = 'x'\n",
    "class B:\n    def __init_subclass__(cls):\n        cls.summary = 'y'\nclass C(B):\n    summary = 'x'\n",
    "from somewhere_that_does_not_exist import Base\nclass C(Base):\n    summary = 'x'\n",
    "def make():\n    return object\nclass C(make()):\n    summary = 'x'\n",
])
def test_what_the_source_cannot_settle_gives_none(package, source):
    module = package("unsettled", source)
    assert read_class_attributes(f"{module}:C", FIELDS) is None


def test_an_unknown_class_or_module_gives_none(package):
    module = package("empty", "X = 1\n")
    assert read_class_attributes(f"{module}:Missing", FIELDS) is None
    assert read_class_attributes("sa_pkg.no_such_module:C", FIELDS) is None


def test_reading_executes_nothing(package):
    module = package("loud", "raise SystemExit('executed')\nclass C:\n    summary = 'quiet'\n")
    assert read_class_attributes(f"{module}:C", FIELDS) == {"summary": "quiet"}
    assert "sa_pkg" not in sys.modules and module not in sys.modules
