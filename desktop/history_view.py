"""An image's label history: when, who, what, and which model's prediction was on screen."""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from desktop.review_services import class_colour, display_name

COLUMNS = ("When", "Who", "What", "Model said")


def _what(row) -> str:  # noqa: ANN001 (desktop.review_worker.HistoryRow)
    if row.what == "undo":
        return f"undo (now {display_name(row.label_after) if row.label_after else 'unlabelled'})"
    if row.what.startswith("redo "):
        return f"redo {display_name(row.what[5:])}"
    return display_name(row.what)


def _swatch(label: str) -> QIcon:
    """A small square of the class colour beside the text (colour is never the only cue)."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(class_colour(label))
    return QIcon(pixmap)


class HistoryView(QTreeWidget):
    """Newest event first; a note shows as the row's tooltip and in a child line."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(len(COLUMNS))
        self.setHeaderLabels(list(COLUMNS))
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setAlternatingRowColors(True)
        header = self.header()
        header.setStretchLastSection(True)
        for col in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.setToolTip("Label history of this image, newest first")
        self.set_rows([])

    def sizeHint(self) -> QSize:
        """About six rows: the photo keeps the space; the list scrolls."""
        rows = 6 * (self.fontMetrics().height() + 6) + self.header().sizeHint().height()
        return QSize(320, rows + 2 * self.frameWidth())

    def set_rows(self, rows: list) -> None:
        """Show ``desktop.review_worker.HistoryRow`` items; an empty list says so."""
        self.clear()
        if not rows:
            item = QTreeWidgetItem(["", "", "not labelled yet", ""])
            item.setDisabled(True)
            self.addTopLevelItem(item)
            return
        for row in rows:
            when = row.when.astimezone().strftime("%Y-%m-%d %H:%M")
            item = QTreeWidgetItem([when, row.who, _what(row), row.model or "-"])
            item.setToolTip(3, row.model_detail or "no screening result before this label")
            shown = row.label_after if row.what == "undo" else row.what.removeprefix("redo ")
            if shown:
                item.setIcon(2, _swatch(shown))
            if row.note:
                item.setToolTip(2, f"Note: {row.note}")
                item.addChild(QTreeWidgetItem(["", "", f"note: {row.note}", ""]))
            self.addTopLevelItem(item)
            item.setExpanded(True)
        self.setRootIsDecorated(any(r.note for r in rows))

    def row_texts(self) -> list[list[str]]:
        """The visible text of every top-level row (tests and accessibility)."""
        return [
            [self.topLevelItem(i).text(c) for c in range(len(COLUMNS))]
            for i in range(self.topLevelItemCount())
        ]
