"""Start the desktop app: QApplication, logging, error hooks, the case store, the main window.

``main(argv)`` is the one entry point (``make run``, ``poxscreen gui``, ``python -m desktop``,
the packaged launcher). Start-up stays light: torch is not imported here; the model loads on a
worker thread once the window is up.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from desktop.main_window import MainWindow
    from desktop.shell.db_open import Asker
    from desktop.shell.error_reporting import ErrorReporter
    from desktop.shell.name_prompt import NameAsker

log = logging.getLogger("poxscreen.desktop")
QUIT_AFTER_ENV = "POXSCREEN_QUIT_AFTER_MS"  # close the window this long after start (tests)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog="poxscreen gui", description="PoxScreen desktop app")
    p.add_argument("--db", help="case store: a file or SQLAlchemy URL (default: the last one used)")
    p.add_argument("--settings", help="settings INI file (default: the platform's settings store)")
    p.add_argument(
        "--screen", metavar="FOLDER", help="start screening FOLDER once the window is up"
    )
    p.add_argument(
        "--lang", help="language of the app: en, fr or pt (default: Settings, else the system's)"
    )
    return p.parse_known_args(argv)


def make_application(qt_args: list[str]) -> QApplication:
    """The QApplication, high-DPI aware (fractional scaling passed through, not rounded)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(["poxscreen", *qt_args])
    app.setApplicationName("PoxScreen")
    app.setOrganizationName("PoxScreen")
    app.setApplicationDisplayName("PoxScreen")
    return app


def build_window(
    argv: list[str] | None = None,
    *,
    ask: Asker | None = None,
    install_hooks: bool = False,
    ask_who: NameAsker | None = None,
) -> tuple[MainWindow | None, ErrorReporter]:
    """Create the app objects and the main window (not shown). Returns (window, reporter);
    window is None when the clinician chose to quit at the name prompt (first start: who is
    screening?) or at the case-store dialog."""
    args, qt_args = parse_args(list(sys.argv[1:] if argv is None else argv))
    make_application(qt_args)
    from desktop.main_window import MainWindow
    from desktop.settings import Settings
    from desktop.shell import file_dialogs
    from desktop.shell.db_open import open_store_interactive
    from desktop.shell.error_reporting import ErrorReporter, setup_logging

    log_path = setup_logging()
    reporter = ErrorReporter(log_path)
    if install_hooks:
        reporter.install_hooks()
    settings = Settings(args.settings)
    from desktop.services.i18n import apply_language

    apply_language(args.lang or settings.language or None)  # before any widget is made
    file_dialogs.use_settings(settings)  # the case-store dialog too starts in the last folder
    if not settings.name_given:
        from desktop.shell.name_prompt import ask_name

        if not (ask_who or ask_name)(settings):
            log.info("no clinician name given; quitting")
            return None, reporter
    wanted = args.db or settings.database or None
    store, used = open_store_interactive(wanted, ask)
    if store is None:
        log.info("no case store opened; quitting")
        return None, reporter
    if used:
        settings.database = used
    log.info("case store %s (settings %s)", store.location, settings.file)
    window = MainWindow(store, settings, reporter, used)
    reporter.parent_widget = window
    if args.screen:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(0, lambda: window.screen_folder(args.screen))
    return window, reporter


def main(argv: list[str] | None = None) -> int:
    """Run the app until the window closes; the exit status for the shell."""
    window, _reporter = build_window(argv, install_hooks=True)
    if window is None:
        return 1
    from PySide6.QtWidgets import QApplication

    window.show()
    quit_after = os.environ.get(QUIT_AFTER_ENV, "")
    if quit_after.isdigit():  # smoke tests: start, work a while, quit as the clinician would
        from PySide6.QtCore import QTimer

        QTimer.singleShot(int(quit_after), window.close)
    return int(QApplication.instance().exec())  # type: ignore[union-attr]
