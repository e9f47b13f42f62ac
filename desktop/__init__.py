"""PoxScreen's desktop app (PySide6): the only package that imports Qt.

This module itself stays Qt-free and import-light, so launchers and packagers can import it
cheaply; ``main`` imports Qt only when called.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """Open the desktop app (see desktop.app.main)."""
    from desktop.app import main as _main

    return _main(argv)


__all__ = ["main"]
