"""A dock listing files that could not be screened (name and reason); hidden while empty."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.services.i18n import _, format_number, ngettext


class ErrorsPanel(QDockWidget):
    """``add(path, reason)`` per unreadable file; the title counts them."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_("Unreadable files"), parent)
        self.setObjectName("errors_panel")
        body = QWidget()
        lay = QVBoxLayout(body)
        lay.setContentsMargins(4, 4, 4, 4)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels([_("File"), _("Reason"), _("Folder")])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setAccessibleName(_("Unreadable files"))
        self.tree.setColumnWidth(0, 220)
        self.tree.setColumnWidth(1, 320)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        self.clear_button = QPushButton(_("Clear list"))
        self.clear_button.setToolTip(_("Forget these messages (the files are not touched)"))
        self.clear_button.clicked.connect(self.clear)
        row.addWidget(self.clear_button)
        lay.addLayout(row)
        lay.addWidget(self.tree)
        self.setWidget(body)
        self._seen: set[tuple[str, str]] = set()
        self.hide()

    def count(self) -> int:
        return self.tree.topLevelItemCount()

    def add(self, path: str, reason: str) -> None:
        key = (path, reason)
        if key in self._seen:
            return
        self._seen.add(key)
        item = QTreeWidgetItem([os.path.basename(path) or path, reason, os.path.dirname(path)])
        for col in range(3):
            item.setToolTip(col, f"{path}\n{reason}")
        item.setData(0, Qt.ItemDataRole.UserRole, path)
        self.tree.addTopLevelItem(item)
        self._update()

    def set_errors(self, errors: list[tuple[str, str]]) -> None:
        self.clear()
        for path, reason in errors:
            self.add(path, reason)

    def clear(self) -> None:
        self.tree.clear()
        self._seen.clear()
        self._update()

    def _update(self) -> None:
        n = self.count()
        title = _("Unreadable files ({n})").format(n=format_number(n))
        self.setWindowTitle(title if n else _("Unreadable files"))
        self.summary.setText(
            ngettext(
                "{n} file could not be screened and was skipped; the other photos are not"
                " affected.",
                "{n} files could not be screened and were skipped; the other photos are not"
                " affected.",
                n,
            ).format(n=format_number(n))
        )
        self.setVisible(n > 0)
