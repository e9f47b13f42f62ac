"""Measure the GUI's cold start: launch to a shown window with a running event loop.

With ``POXSCREEN_STARTUP_PROBE=1`` the launcher wraps ``QApplication.exec`` so that the first
turn of the event loop (the main window shown, its first events processed) prints one line and
ends the process at once (exit 0, or 4 when no window was visible). ``make package-test`` times the packaged executable this way; nothing changes in
the GUI code and nothing is imported unless the variable is set.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

PROBE_ENV = "POXSCREEN_STARTUP_PROBE"
MARK = "[startup]"


def _report_and_quit(app: Any, t0: float) -> None:
    windows = [w for w in app.topLevelWidgets() if w.isVisible()]
    titles = ", ".join(repr(w.windowTitle()) for w in windows) or "none"
    print(
        f"{MARK} event loop running {time.perf_counter() - t0:.2f} s after launcher start; "
        f"visible windows: {titles}",
        flush=True,
    )
    # Leave at once: background work the window started (the model loading on a worker) is not
    # what is measured, and tearing it down mid-import only adds noise.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0 if windows else 4)


def install(t0: float) -> None:
    """Wrap QApplication.exec: report at the first event-loop turn, then quit (status 4 when
    no window was visible)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    original = QApplication.exec

    def exec_once(*args: Any) -> int:
        app = QApplication.instance()
        QTimer.singleShot(0, lambda: _report_and_quit(app, t0))
        return original()  # static in PySide6: app.exec() and QApplication.exec() alike

    QApplication.exec = exec_once  # type: ignore[method-assign]
    QApplication.exec_ = exec_once  # type: ignore[attr-defined]
    sys.stdout.flush()
