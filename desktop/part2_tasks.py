"""Run a plain function on the global QThreadPool; its result or exception comes back through a
queued signal on the GUI thread. The function never touches widgets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

_live: set[_Task] = set()  # keeps signal objects alive until their result is delivered


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any]) -> None:
        super().__init__()
        self.fn = fn
        self.signals = _Signals()
        self.setAutoDelete(False)

    def run(self) -> None:
        try:
            result = self.fn()
        except Exception as exc:  # handed to the GUI thread: never lost, never a crash
            self.signals.failed.emit(exc)
        else:
            self.signals.done.emit(result)


def run_in_pool(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
) -> None:
    """Start ``fn`` off the GUI thread; exactly one of ``on_done``/``on_error`` runs on it."""
    task = _Task(fn)
    task.signals.done.connect(on_done)
    task.signals.failed.connect(on_error)
    task.signals.done.connect(lambda _r: _live.discard(task))
    task.signals.failed.connect(lambda _e: _live.discard(task))
    _live.add(task)
    QThreadPool.globalInstance().start(task)
