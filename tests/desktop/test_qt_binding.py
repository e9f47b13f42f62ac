"""The Qt binding in use must not corrupt Python's reference counts.

PySide6 6.12.0 decrements None's reference count on every call of a void method; on Python 3.11
(where None is not immortal) the app then aborts with "Fatal Python error: none_dealloc" after a
few thousand calls -- minutes into a session. pyproject pins a version without the defect.
"""

from __future__ import annotations

import sys

import pytest


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="None is immortal from Python 3.12")
def test_void_qt_calls_keep_none_alive(qapp: object) -> None:
    from PySide6.QtWidgets import QLabel

    label = QLabel("x")
    before = sys.getrefcount(None)
    for _ in range(500):
        label.update()
        qapp.processEvents()  # type: ignore[attr-defined]
    assert sys.getrefcount(None) - before > -100
