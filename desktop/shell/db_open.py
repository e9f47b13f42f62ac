"""Opening the case store with a way out: a database that is newer, foreign or locked gets a
dialog with choices (open another, start a new one, retry, quit), never a crash. The file that
could not be opened is never changed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.services import store as ea
from desktop.services.i18n import N_, _
from desktop.shell.file_dialogs import open_file, save_file

log = logging.getLogger(__name__)

#: What the clinician reads for each kind of problem.
PROBLEMS = {
    "newer": N_("This case store was written by a newer version of PoxScreen."),
    "foreign": N_("This file is not a PoxScreen case store."),
    "locked": N_("This case store is locked by another program."),
    "other": N_("The case store could not be opened."),
}
#: ask(kind, location, reason) -> ("open", path) | ("new", path) | ("retry", None) | ("quit", None)
Asker = Callable[[str, str, str], tuple[str, str | None]]


def ask_with_dialog(
    kind: str, location: str, reason: str, parent: QWidget | None = None
) -> tuple[str, str | None]:
    """The real dialog: choices that fit the problem; file pickers for open / new."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(_("PoxScreen: case store"))
    box.setText(f"<b>{_(PROBLEMS[kind])}</b>")
    box.setInformativeText(f"{location}\n\n{reason}\n\n" + _("The file was left untouched."))
    open_b = box.addButton(_("Open another..."), QMessageBox.ButtonRole.AcceptRole)
    new_b = box.addButton(_("Start a new case store..."), QMessageBox.ButtonRole.AcceptRole)
    retry_b = (
        box.addButton(_("Retry"), QMessageBox.ButtonRole.ActionRole)
        if kind in ("locked", "other")
        else None
    )
    box.addButton(_("Quit"), QMessageBox.ButtonRole.RejectRole)
    box.exec()
    clicked = box.clickedButton()
    if clicked is open_b:
        path = open_file(
            parent, "database", _("Open case store"), _("PoxScreen database (*.db);;All files (*)")
        )
        return ("open", path) if path else ("retry", None)
    if clicked is new_b:
        path = save_file(
            parent, "database", _("New case store"), "poxscreen.db", _("PoxScreen database (*.db)")
        )
        return ("new", path) if path else ("retry", None)
    if retry_b is not None and clicked is retry_b:
        return ("retry", None)
    return ("quit", None)


def open_store_interactive(
    db: str | None, ask: Asker | None = None, max_tries: int = 20
) -> tuple[ea.Store | None, str | None]:
    """Open ``db`` (None: the default); on failure ask what to do. Returns (store, db used) or
    (None, None) when the clinician chose to quit."""
    ask = ask or ask_with_dialog
    target = db
    for _try in range(max_tries):
        try:
            return ea.open_store(target or None), target
        except Exception as exc:  # StoreError, StoreVersionError, OSError...
            kind = ea.classify_open_error(exc)
            location, reason = ea.open_error_parts(exc, target or _("the default case store"))
            log.warning("cannot open case store %s (%s): %s", location, kind, exc)
            choice, path = ask(kind, str(location), str(reason))
            if choice == "quit":
                return None, None
            if choice in ("open", "new") and path:
                target = path
    return None, None
