"""The code stays readable in the large: no class over 300 lines, no function over 60.

Alembic migrations are exempt (a revision is one long, linear script by design).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_CLASS_LINES = 300
MAX_FUNCTION_LINES = 60
EXEMPT = ("migrations",)

#: Checked packages (desktop/ has its own, stricter check in tests/desktop/test_code_shape.py).
PACKAGES = ("engine", "trainer")


def _sources(package: str) -> list[Path]:
    files = []
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT)
        if any(part in EXEMPT for part in rel.parts):
            continue
        files.append(path)
    return files


def oversized(path: Path) -> list[str]:
    """Every class and function in ``path`` longer than its limit, as ``file:line name (n)``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            limit = MAX_CLASS_LINES
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            limit = MAX_FUNCTION_LINES
        else:
            continue
        lines = (node.end_lineno or node.lineno) - node.lineno + 1
        if lines > limit:
            rel = path.relative_to(ROOT)
            found.append(f"{rel}:{node.lineno} {node.name} ({lines} lines > {limit})")
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_class_or_function_is_too_long(package: str) -> None:
    files = _sources(package)
    assert files, f"no sources found under {package}/"
    too_long = [line for path in files for line in oversized(path)]
    assert not too_long, "split these by concern:\n" + "\n".join(too_long)
