"""The visits of the case store, one row each: patient, visit, photos, referred, decision, lab."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from desktop.services.i18n import N_, _
from desktop.services.visits import VisitRow, lab_word
from desktop.services.vocabulary import long_name

COLUMNS = (N_("Patient"), N_("Visit"), N_("Photos"), N_("Referred"), N_("Decision"), N_("Lab"))


class VisitList(QTableWidget):
    """Emits ``chosen(patient, visit)`` when a row becomes current."""

    chosen = Signal(str, str)

    def __init__(self) -> None:
        super().__init__(0, len(COLUMNS))
        self.setHorizontalHeaderLabels([_(c) for c in COLUMNS])
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setAccessibleName(_("Visits"))
        self.rows: list[VisitRow] = []
        self.currentCellChanged.connect(lambda row, *_: self._chosen(row))

    def set_rows(self, rows: list[VisitRow]) -> None:
        """Show ``rows``, keeping the current visit current when it is still there."""
        keep = self.current()
        self.blockSignals(True)
        self.rows = list(rows)
        self.setRowCount(len(rows))
        for i, r in enumerate(rows):
            referred = (
                _("{n} of {total}").format(n=r.referred_photos, total=r.photos)
                if r.referred
                else _("no")
            )
            cells = (r.patient, r.visit, str(r.photos), referred,
                     long_name(r.decision) if r.decision else "-", lab_word(r.lab_result))  # fmt: skip
            for j, text in enumerate(cells):
                self.setItem(i, j, QTableWidgetItem(text))
        self.blockSignals(False)
        keys = [(r.patient, r.visit) for r in rows]
        if keep in keys:
            self.selectRow(keys.index(keep))
        elif rows:
            self.selectRow(0)
            self._chosen(0)

    def current(self) -> tuple[str, str] | None:
        row = self.currentRow()
        return (self.rows[row].patient, self.rows[row].visit) if 0 <= row < len(self.rows) else None

    def _chosen(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.chosen.emit(self.rows[row].patient, self.rows[row].visit)
