"""The question after a screening that met forgotten photos: they were skipped (their names and
pixels stay out of the case store); the clinician may choose to add them again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

from desktop.services.i18n import _, ngettext

if TYPE_CHECKING:
    from desktop.main_window import MainWindow


def readd_question(count: int) -> str:
    first = ngettext(
        "{n} photo in this folder had been forgotten in the case store and was skipped.",
        "{n} photos in this folder had been forgotten in the case store and were skipped.",
        count,
    ).format(n=count)
    return (
        first
        + "\n\n"
        + _(
            "Add them again? Their copies, thumbnails and file names come back into the case"
            " store. Choose No to keep them forgotten."
        )
    )


def offer_readd(window: MainWindow, folder: str, count: int) -> bool:
    """Ask; on Yes screen ``folder`` again, adding the forgotten photos back. True when asked
    to (and the screening started)."""
    answer = QMessageBox.question(
        window,
        _("Add forgotten photos again?"),
        readd_question(count),
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    if answer != QMessageBox.StandardButton.Yes:
        return False
    return window.screening.start(folder, readd_forgotten=True)
