"""Errors are never silent: a rotating log file, global exception hooks and a readable dialog.

Any thread may report; the dialog is always built on the GUI thread (a queued signal), is not
modal (the gallery stays usable and saved work stays saved), names what failed in one sentence,
hides the traceback behind "Show Details..." and says where the log file is.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from pathlib import Path
from types import TracebackType

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from desktop.services.i18n import _
from desktop.services.store import log_folder

log = logging.getLogger("poxscreen.desktop")

LOG_NAME = "poxscreen.log"


def log_dir() -> Path:
    """<user data dir>/logs (POXSCREEN_DATA_DIR moves it, as it moves the database)."""
    return log_folder()


def setup_logging(folder: Path | None = None) -> Path:
    """Log INFO and above to a rotating file (5 x 1 MB) and warnings to stderr; return its path."""
    folder = folder or log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / LOG_NAME
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_poxscreen", False):
            root.removeHandler(h)
            h.close()
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=1_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    )
    handler._poxscreen = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))
    return path


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


class ErrorReporter(QObject):
    """Logs every reported error and shows it in a dialog on the GUI thread."""

    _show = Signal(str, str, str)  # what failed, one-line reason, details

    def __init__(self, log_path: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path
        self.parent_widget: QWidget | None = None
        self.dialogs: list[QMessageBox] = []
        self.reported: list[tuple[str, str]] = []  # (what, reason): also read by tests
        self._show.connect(self._on_show, Qt.ConnectionType.QueuedConnection)

    def report(self, what: str, exc: BaseException, tb: TracebackType | None = None) -> None:
        """Log ``exc`` (with traceback) and show a dialog saying ``what`` failed. Any thread."""
        details = "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))
        log.error("%s: %s\n%s", what, _one_line(exc), details)
        self.reported.append((what, _one_line(exc)))
        self._show.emit(what, _one_line(exc), details)

    def report_text(self, what: str, reason: str, details: str = "") -> None:
        """An error that is not an exception (e.g. a child process's message)."""
        log.error("%s: %s\n%s", what, reason, details)
        self.reported.append((what, reason))
        self._show.emit(what, reason, details)

    @Slot(str, str, str)
    def _on_show(self, what: str, reason: str, details: str) -> None:
        parent = self.parent_widget
        if parent is not None and not shiboken6.isValid(parent):  # the window is gone
            parent = self.parent_widget = None
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle(_("PoxScreen: something went wrong"))
        box.setText(f"<b>{_escape(what)}</b>")
        saved = _("Work already saved stays saved.")
        where = _("The log file has the details: {path}").format(
            path=f"<tt>{_escape(str(self.log_path))}</tt>"
        )
        box.setInformativeText(f"{_escape(reason)}<br><br>{saved}<br>{where}")
        box.setDetailedText(details or reason)
        box.setStandardButtons(QMessageBox.StandardButton.Close)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.finished.connect(lambda _=0, b=box: self._forget(b))
        self.dialogs.append(box)
        box.show()

    def _forget(self, box: QMessageBox) -> None:
        if box in self.dialogs:
            self.dialogs.remove(box)

    def install_hooks(self) -> None:
        """Route uncaught exceptions (GUI thread and Python threads) here instead of a crash."""

        def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
            if issubclass(kind, KeyboardInterrupt):
                QApplication.quit()
                return
            self.report(_("An unexpected error occurred"), exc, tb)

        def thread_hook(args: threading.ExceptHookArgs) -> None:
            if args.exc_value is not None:
                name = args.thread.name if args.thread else _("a background task")
                self.report(
                    _("A background task ({name}) failed").format(name=name),
                    args.exc_value,
                    args.exc_traceback,
                )

        sys.excepthook = hook
        threading.excepthook = thread_hook


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
