"""Part 2's dialogs run their engine calls through the app's one task runner (desktop.tasks) on
the global QThreadPool; the result or exception comes back on the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QThreadPool

from desktop.tasks import run_task


def run_in_pool(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
) -> None:
    """Start ``fn`` off the GUI thread; exactly one of ``on_done``/``on_error`` runs on it.

    When ``on_error`` is a method of a widget (every dialog passes its own), an answer that
    arrives after that widget was closed and deleted is dropped instead of touching it."""
    owner = getattr(on_error, "__self__", None)
    alive = (lambda: shiboken6.isValid(owner)) if isinstance(owner, QObject) else (lambda: True)
    run_task(
        QThreadPool.globalInstance(),
        fn,
        lambda result: on_done(result) if alive() else None,
        on_error=lambda exc: on_error(exc) if alive() else None,
    )
