"""An image's label history: what, who, when, and which model's prediction was on screen.

Two lines per event rather than table columns, so the history stays readable in a narrow
review pane: the label (with a swatch of its class colour), who and when; then, in a quieter
line, what the model said at the time and the clinician's note.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

from desktop.services.i18n import _, format_datetime
from desktop.services.vocabulary import class_colour, long_name


def _what(row) -> str:  # noqa: ANN001 (desktop.services.review.HistoryRow)
    if row.what == "undo":
        now = long_name(row.label_after) if row.label_after else _("unlabelled")
        return _("Undo (now {label})").format(label=now)
    if row.what.startswith("redo "):
        return _("Redo {label}").format(label=long_name(row.what[5:]))
    if row.what.startswith("adjudication "):  # a third reader settled a dispute
        return _("Adjudication: {label}").format(label=long_name(row.what[13:]))
    return long_name(row.what)


def _swatch(label: str | None) -> QIcon:
    """A small square of the class colour beside the text (colour is never the only cue);
    a blank one for "unlabelled" so every entry's text lines up."""
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(class_colour(label)) if label else Qt.GlobalColor.transparent)
    return QIcon(pixmap)


def row_text(row) -> str:  # noqa: ANN001 (desktop.services.review.HistoryRow)
    """The two lines shown for one event."""
    when = format_datetime(row.when.astimezone())
    second = (
        _("model said {model}").format(model=row.model)
        if row.model
        else _("no screening result before this label")
    )
    if row.note:
        second += " · " + _("note: {note}").format(note=row.note)
    return f"{_what(row)} — {row.who}, {when}\n{second}"


class HistoryView(QListWidget):
    """Newest event first; the model version is in each entry's tooltip."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setWordWrap(True)
        self.setAlternatingRowColors(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setToolTip(_("Label history of this image, newest first"))
        self._rows: list = []
        self.set_rows([])

    def sizeHint(self) -> QSize:
        """About three events: the photo keeps the space; the list scrolls."""
        return QSize(320, 6 * (self.fontMetrics().height() + 3) + 2 * self.frameWidth())

    def set_rows(self, rows: list) -> None:
        """Show ``desktop.services.review.HistoryRow`` items; an empty list says so."""
        self.clear()
        self._rows = list(rows)
        if not rows:
            item = QListWidgetItem(_("Not labelled yet"))
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.addItem(item)
            return
        for row in rows:
            item = QListWidgetItem(row_text(row))
            shown = row.label_after if row.what == "undo" else row.what.removeprefix("redo ")
            item.setIcon(_swatch(shown))
            item.setToolTip(row.model_detail or _("no screening result before this label"))
            self.addItem(item)

    def rows(self) -> list:
        """The HistoryRow objects on show, newest first."""
        return list(self._rows)

    def texts(self) -> list[str]:
        """The visible text of every entry (tests and accessibility)."""
        return [self.item(i).text() for i in range(self.count())]
