"""The lab (PCR) result of a visit: positive, negative or pending, the date and the test."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from desktop.services.i18n import _
from desktop.services.visits import LAB_RESULTS, VisitRow, lab_word


class LabForm(QGroupBox):
    """Emits ``submitted(result, date, test)``; the store checks the date and says why."""

    submitted = Signal(str, str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(_("Lab result (PCR)"), parent)
        form = QFormLayout(self)
        self.current = QLabel(_("No lab result recorded"))
        self.result = QComboBox()
        for result in LAB_RESULTS:
            self.result.addItem(lab_word(result), result)
        self.date = QLineEdit()
        self.date.setPlaceholderText(_("YYYY-MM-DD"))
        self.test = QLineEdit()
        self.test.setPlaceholderText(_("e.g. MPXV PCR"))
        self.save = QPushButton(_("Save lab result"))
        self.save.clicked.connect(self._submit)
        form.addRow(self.current)
        form.addRow(_("Result"), self.result)
        form.addRow(_("Date"), self.date)
        form.addRow(_("Test"), self.test)
        form.addRow(self.save)

    def _submit(self) -> None:
        self.submitted.emit(
            str(self.result.currentData()), self.date.text().strip(), self.test.text()
        )

    def show_row(self, row: VisitRow) -> None:
        """Show the visit's recorded result, and fill the form with it."""
        if row.lab_result is None:
            self.current.setText(_("No lab result recorded"))
            self.date.clear()
            self.test.clear()
            return
        parts = [lab_word(row.lab_result), row.lab_date or "", row.lab_test or ""]
        self.current.setText(
            _("Recorded: {result}").format(result=", ".join(p for p in parts if p))
        )
        self.result.setCurrentIndex(max(0, self.result.findData(row.lab_result)))
        self.date.setText(row.lab_date or "")
        self.test.setText(row.lab_test or "")
