"""Open a file the app has just written (a PDF report, a CSV export) with the computer's own
program; when that fails, say so and offer to show the file in its folder instead of failing
without a word."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QMessageBox, QWidget

from desktop.services.i18n import N_, _

NOT_OPENED = N_("{name} was written, but it could not be opened.")
WHERE = N_(
    "No program on this computer opened it. The file is in:\n{folder}\n\n"
    "Show it in its folder to open it from there."
)
SHOW = N_("Show in folder")


def failure_box(parent: QWidget | None, path: Path) -> QMessageBox:
    """The message for a written file that did not open, with a Show in folder button."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("PoxScreen")
    box.setText(_(NOT_OPENED).format(name=path.name))
    box.setInformativeText(_(WHERE).format(folder=path.parent))
    box.addButton(_(SHOW), QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Close)
    return box


def ask_show_in_folder(parent: QWidget | None, path: Path) -> bool:
    """True when the clinician chose Show in folder (tests replace this)."""
    box = failure_box(parent, path)
    box.exec()
    clicked = box.clickedButton()
    return clicked is not None and clicked.text() == _(SHOW)


def show_in_folder(path: Path) -> bool:
    """Open the folder that holds ``path`` in the file manager."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))


def open_written(parent: QWidget | None, path: str | Path) -> bool:
    """Open ``path``; if no program opens it, tell the clinician and offer its folder."""
    path = Path(path)
    if QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
        return True
    if ask_show_in_folder(parent, path):
        show_in_folder(path)
    return False
