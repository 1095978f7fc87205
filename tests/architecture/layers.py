"""The import layers of bench's source tree, and a checker that finds every import that breaks them.

Stages, lowest first: a module may import its own stage and the stages below it, never one above. Every import
statement counts: module-level, inside functions, and under `if TYPE_CHECKING:`.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator
from pathlib import Path

LAYERS: tuple[tuple[str, ...], ...] = (
    ("bench.core",),  # the contract, images, config and the --set grammar, errors, files, registry, device
    ("bench.data", "bench.datasets"),  # manifests, the image cache, decoding; the data-set adapters
    ("bench.metrics",),  # image and pixel metrics, the metric catalogue
    ("bench.methods",),  # the detectors (they may use data and metrics, e.g. for checkpoint selection)
    ("bench.runs",),  # plan, identity, run folders, the run step, executors, dry run, tracking
    ("bench.report",),  # tables, plots, leaderboard, site: read run folders
    ("bench.api", "bench.testing"),  # the Python API; the conformance checks for plugin authors
    ("bench.cli",),  # the command line
)
ROOT_PACKAGE = "bench"
FOLDERS = {"bench": "bench", "bench.methods": "methods", "bench.datasets": "datasets"}  # package-dir mapping


@dataclasses.dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str

    def __str__(self) -> str:
        return (f"{self.module}:{self.line} imports {self.imported} ({stage_name(self.imported)}), a later stage "
                f"than its own ({stage_name(self.module)})")


def stage_of(module: str) -> int | None:
    """The index of `module`'s stage in LAYERS (the longest matching prefix); None outside them."""
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def stage_name(module: str) -> str:
    index = stage_of(module)
    return "no stage" if index is None else "/".join(LAYERS[index])


def modules(root: Path) -> Iterator[tuple[str, Path]]:
    """(dotted name, path) of every module under the repository `root` (bench/, methods/, datasets/)."""
    for package, folder in FOLDERS.items():
        base = root / folder
        for path in sorted(base.rglob("*.py")):
            relative = path.relative_to(base).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            if package == "bench" and parts and parts[0] in ("methods", "datasets"):
                continue
            yield ".".join([package, *parts]), path


def imports(module: str, path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) of every bench import in the file, wherever it stands; `from bench.x import y`
    counts as bench.x.y when that is a module, else as bench.x (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == ROOT_PACKAGE or alias.name.startswith(ROOT_PACKAGE + "."):
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base == ROOT_PACKAGE or base.startswith(ROOT_PACKAGE + "."):
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}" if base == ROOT_PACKAGE else base


def violations(root: Path) -> list[Violation]:
    """Every import of a later stage under `root`."""
    found = []
    for module, path in modules(root):
        own = stage_of(module)
        if own is None:
            continue
        for line, imported in imports(module, path):
            other = stage_of(imported)
            if other is not None and other > own:
                found.append(Violation(module, line, imported))
    return found


def unstaged(root: Path) -> list[str]:
    """Modules in no stage (every module of the tree belongs to one, except the package's own __init__)."""
    return [m for m, _ in modules(root) if m != ROOT_PACKAGE and stage_of(m) is None]
