"""The per-photo actions of the Case menu that the review panel owns: add a note, open the folder
that holds the photo, copy its SHA-256. Each needs a photo on show (disabled otherwise).

The label and refer actions are the panel's own (:class:`desktop.review.actions.ReviewActions`);
the Case menu lists them beside these.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QMessageBox

from desktop.review.header import item_name
from desktop.services.i18n import N_, _

if TYPE_CHECKING:
    from desktop.review.panel import ReviewPanel

NOTE_TEXT = N_("Add a &note...")
NOTE_TIP = N_("Type a note about this photo; it is saved with the next label")
FOLDER_TEXT = N_("Open containing &folder")
FOLDER_TIP = N_("Open the folder that holds this photo in the file manager")
COPY_TEXT = N_("Copy &SHA-256")
COPY_TIP = N_("Copy the photo's SHA-256 (its identity in the case store) to the clipboard")
COPIED = N_("SHA-256 of {name} copied to the clipboard")
FOLDER_TITLE = N_("Open containing folder")
NO_FOLDER = N_("The folder of {name} cannot be found:\n{folder}\nThe photo may have been moved.")
OPEN_FAILED = N_(
    "Could not open the folder {folder} in a file manager.\n"
    "Its path is copied to the clipboard: paste it into your file manager."
)


class CaseActions(QObject):
    """``note``, ``open_folder`` and ``copy_sha`` for the photo on show in ``panel``."""

    def __init__(self, panel: ReviewPanel) -> None:
        super().__init__(panel)
        self.panel = panel
        self.note = self._action(_(NOTE_TEXT), _(NOTE_TIP), self.add_note)
        self.open_folder = self._action(_(FOLDER_TEXT), _(FOLDER_TIP), self.open_containing_folder)
        self.copy_sha = self._action(_(COPY_TEXT), _(COPY_TIP), self.copy_sha256)
        self.all = [self.note, self.open_folder, self.copy_sha]

    def _action(self, text: str, tip: str, slot: object) -> QAction:
        action = QAction(text, self.panel)
        action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())  # type: ignore[operator]
        return action

    def update(self, has_item: bool) -> None:
        for action in self.all:
            action.setEnabled(has_item)

    def add_note(self) -> None:
        """Focus the note field of the photo on show."""
        if self.panel.current_item() is not None:
            self.panel.note.setFocus(Qt.FocusReason.ShortcutFocusReason)
            self.panel.note.selectAll()

    def folder(self) -> Path | None:
        """The folder holding the photo: where it was screened, else the store's copy."""
        item = self.panel.current_item()
        if item is None:
            return None
        paths = [Path(p) for p in (item.path, item.stored_path) if p]
        found = [p.parent for p in paths if p.parent.is_dir()]
        return found[0] if found else (paths[0].parent if paths else None)

    def open_containing_folder(self) -> bool:
        """Open the folder in the file manager; say so when it cannot be opened."""
        item, folder = self.panel.current_item(), self.folder()
        if item is None:
            return False
        if folder is None or not folder.is_dir():
            text = _(NO_FOLDER).format(name=item_name(item), folder=folder or item.sha256)
            QMessageBox.warning(self.panel, _(FOLDER_TITLE), text)
            return False
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            return True
        QGuiApplication.clipboard().setText(str(folder))
        QMessageBox.warning(self.panel, _(FOLDER_TITLE), _(OPEN_FAILED).format(folder=folder))
        return False

    def copy_sha256(self) -> None:
        item = self.panel.current_item()
        if item is not None:
            QGuiApplication.clipboard().setText(item.sha256)
            self.panel.status.setText(_(COPIED).format(name=item_name(item)))
