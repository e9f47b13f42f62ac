"""A language chosen in Settings takes effect at once: the main window is built again in the new
language on the same case store, and the session state (filter, sort, run, current photo,
layout) is carried over by :class:`desktop.shell.session_state.SessionState`. Every label is
made again by the widgets' own code, so no widget needs a "retranslate" method of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from desktop.services.i18n import _, apply_language

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

#: The windows built by a language change (kept referenced: nothing else holds them).
_windows: list[MainWindow] = []


def busy_reason(window: MainWindow) -> str | None:
    """Why the window cannot be rebuilt now (None: it can)."""
    if window.screening.running:
        return _("a screening is running")
    dialog = window.dialogs.finetune_dialog
    if dialog is not None and dialog.is_running:
        return _("a fine-tuning run is going on")
    return None


def switch_language(window: MainWindow, code: str | None) -> MainWindow | None:
    """Use ``code`` (None: the system's language) and rebuild ``window`` in it; returns the new
    window, or None when the window is busy (the choice is kept for the next start)."""
    from desktop.main_window import MainWindow

    reason = busy_reason(window)
    if reason is not None:
        QMessageBox.information(
            window,
            "PoxScreen",
            _("The new language is used from the next start ({reason}).").format(reason=reason),
        )
        return None
    apply_language(code)
    window.session.save()  # the new window reads the filter, run and photo back
    new = MainWindow(window.store, window.settings, window.reporter, window.db)
    window.reporter.parent_widget = new
    new.show()
    _windows[:] = [new]
    window.close()
    window.deleteLater()
    return new


def latest_window() -> MainWindow | None:
    """The window the last language change built (None before any)."""
    return _windows[-1] if _windows else None
