"""The desktop's shape, checked from its source (belt and braces with lint-imports): no file over
600 lines, no class over 300, no function over 60; outside desktop/services no module imports
the engine; no module named after a work item."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DESKTOP = Path(__file__).resolve().parents[2] / "desktop"
SOURCES = sorted(DESKTOP.rglob("*.py"))
MAX_FILE, MAX_CLASS, MAX_FUNCTION = 600, 300, 60


def _rel(path: Path) -> str:
    return path.relative_to(DESKTOP.parent).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _imported(tree: ast.Module) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_the_sources_are_found() -> None:
    assert len(SOURCES) > 30 and DESKTOP / "main_window.py" in SOURCES


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_sizes(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_FILE, f"{_rel(path)}: {lines} lines"
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ClassDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= MAX_CLASS, f"{_rel(path)}: class {node.name}: {length} lines"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            assert length <= MAX_FUNCTION, f"{_rel(path)}: {node.name}(): {length} lines"


def test_main_window_only_wires() -> None:
    lines = (DESKTOP / "main_window.py").read_text(encoding="utf-8").count("\n")
    assert lines < 300


@pytest.mark.parametrize("path", SOURCES, ids=_rel)
def test_only_services_import_the_engine(path: Path) -> None:
    if path.is_relative_to(DESKTOP / "services"):
        return
    engine = [m for m in _imported(_tree(path)) if m == "engine" or m.startswith("engine.")]
    assert not engine, f"{_rel(path)} imports {engine}: go through desktop.services"


def test_no_module_named_after_a_work_item() -> None:
    bad = [_rel(p) for p in SOURCES if any(w in p.stem for w in ("part1", "part2", "placeholder"))]
    assert not bad
