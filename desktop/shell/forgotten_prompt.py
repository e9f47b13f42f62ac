"""The question after a screening that met forgotten photos: they were skipped (their names and
pixels stay out of the case store); the clinician may choose to add them again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QMessageBox

if TYPE_CHECKING:
    from desktop.main_window import MainWindow


def readd_question(count: int) -> str:
    photos = "1 photo" if count == 1 else f"{count} photos"
    return (
        f"{photos} in this folder had been forgotten in the case store and were skipped.\n\n"
        "Add them again? Their copies, thumbnails and file names come back into the case store. "
        "Choose No to keep them forgotten."
    )


def offer_readd(window: MainWindow, folder: str, count: int) -> bool:
    """Ask; on Yes screen ``folder`` again, adding the forgotten photos back. True when asked
    to (and the screening started)."""
    answer = QMessageBox.question(
        window,
        "Add forgotten photos again?",
        readd_question(count),
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No,
    )
    if answer != QMessageBox.StandardButton.Yes:
        return False
    return window.screening.start(folder, readd_forgotten=True)
