"""Patient and visit by hand, for one photo or a selection: two fields, checked as typed.

Never modal (the gallery stays usable); ``assigned(patient, visit)`` carries checked
identifiers, ``cleared()`` takes the photos out of any visit.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from desktop.services.i18n import _, ngettext
from desktop.services.visits import check_ids


class AssignDialog(QDialog):
    """Set the patient and visit of ``count`` photos."""

    assigned = Signal(str, str)
    cleared = Signal()

    def __init__(
        self, count: int, patient: str = "", visit: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Patient and visit"))
        form = QFormLayout(self)
        form.addRow(
            QLabel(
                ngettext(
                    "Pseudonymous identifiers for this photo (never a name).",
                    "Pseudonymous identifiers for these {n} photos (never a name).",
                    count,
                ).format(n=count)
            )
        )
        self.patient = QLineEdit(patient)
        self.visit = QLineEdit(visit)
        self.patient.setPlaceholderText(_("e.g. P-0042"))
        self.visit.setPlaceholderText(_("e.g. 2026-12-01"))
        form.addRow(_("Patient"), self.patient)
        form.addRow(_("Visit"), self.visit)
        self.problem = QLabel("")
        self.problem.setStyleSheet("color: #c0392b;")
        self.problem.setWordWrap(True)
        form.addRow(self.problem)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.clear = QPushButton(_("No visit"))
        self.clear.setToolTip(_("Take the photos out of any visit"))
        self.buttons.addButton(self.clear, QDialogButtonBox.ButtonRole.ResetRole)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        self.clear.clicked.connect(self._clear)
        form.addRow(self.buttons)
        for edit in (self.patient, self.visit):
            edit.textChanged.connect(lambda _t: self._check())
        self._check()

    def _check(self) -> bool:
        problem = check_ids(self.patient.text(), self.visit.text())
        self.problem.setText(problem or "")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(problem is None)
        return problem is None

    def _accept(self) -> None:
        if self._check():
            self.assigned.emit(self.patient.text().strip(), self.visit.text().strip())
            self.accept()

    def _clear(self) -> None:
        self.cleared.emit()
        self.accept()
