"""Run a plain function on a QThreadPool and get its result back on the GUI thread.

Database queries, model loading, decoding and Grad-CAM go through here so that the GUI thread
never waits on them. The function never touches widgets; its result (or exception) arrives
through a queued signal. An exception goes to the reporter (log + dialog) unless the caller
handles it with ``on_error``. :class:`Task` is the desktop's one QRunnable for such calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from engine.i18n import N_, _

log = logging.getLogger(__name__)

#: Tasks whose result has not been delivered yet: keeps their signal objects alive until then.
_live: set[Task] = set()


class Reporter(Protocol):
    def report(self, what: str, exc: BaseException) -> None: ...


class _Signals(QObject):
    done = Signal(object)
    failed = Signal(object)
    early = Signal(object)


class Task(QRunnable):
    """One call of ``fn()`` on a worker thread; ``signals.done(result)`` / ``signals.failed(exc)``.

    With ``staged``, ``fn`` is called with one argument, a callable that reports an early result
    through ``signals.early`` (a quick preview before the full answer)."""

    def __init__(self, fn: Callable[..., Any], staged: bool = False) -> None:
        super().__init__()
        self.fn = fn
        self.staged = staged
        self.signals = _Signals()
        self.setAutoDelete(False)

    def run(self) -> None:
        try:
            try:
                result = self.fn(self.signals.early.emit) if self.staged else self.fn()
            except Exception as exc:  # handed to the GUI thread: never lost, never a crash
                self.signals.failed.emit(exc)
            else:
                self.signals.done.emit(result)
        except RuntimeError:  # the app is shutting down and the receiver is gone
            log.debug("task finished after shutdown; result dropped")


def run_task(
    pool: QThreadPool,
    fn: Callable[..., Any],
    on_done: Callable[[Any], None] | None = None,
    *,
    what: str = N_("A background task failed"),
    on_error: Callable[[BaseException], None] | None = None,
    on_early: Callable[[Any], None] | None = None,
    reporter: Reporter | None = None,
    priority: int = 0,
) -> Task:
    """Start ``fn`` on ``pool``; ``on_done`` / ``on_error`` (and ``on_early``, which makes the
    task staged) run on the thread that called this (the signals object lives there).
    Unhandled errors go to ``reporter.report(what, exc)``."""
    task = Task(fn, staged=on_early is not None)
    if on_done is not None:
        task.signals.done.connect(on_done)
    if on_early is not None:
        task.signals.early.connect(on_early)

    def failed(exc: BaseException) -> None:
        if on_error is not None:
            on_error(exc)
        elif reporter is not None:
            reporter.report(_(what), exc)
        else:
            log.error("%s", what, exc_info=exc)

    task.signals.failed.connect(failed)
    _live.add(task)
    task.signals.done.connect(lambda _r: _live.discard(task))
    task.signals.failed.connect(lambda _e: _live.discard(task))
    pool.start(task, priority)
    return task


def run_in_pool(
    fn: Callable[[], Any],
    on_done: Callable[[Any], None],
    on_error: Callable[[BaseException], None],
) -> None:
    """Start ``fn`` on the global pool; exactly one of ``on_done``/``on_error`` runs on the GUI
    thread. When ``on_error`` is a method of a widget (every dialog passes its own), an answer
    that arrives after that widget was closed and deleted is dropped instead of touching it."""
    owner = getattr(on_error, "__self__", None)  # a bound method's object (Python, not ours)
    alive = (lambda: shiboken6.isValid(owner)) if isinstance(owner, QObject) else (lambda: True)
    run_task(
        QThreadPool.globalInstance(),
        fn,
        lambda result: on_done(result) if alive() else None,
        on_error=lambda exc: on_error(exc) if alive() else None,
    )
