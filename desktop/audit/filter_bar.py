"""The Audit view's filter bar: who, what (kind) and since which day."""

from __future__ import annotations

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

from desktop.services.audit import KINDS, AuditQuery, kind_word
from desktop.services.i18n import _


class AuditFilterBar(QWidget):
    """Emits ``changed(AuditQuery)`` whenever a filter changes."""

    changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        self.who = QLineEdit(placeholderText=_("any clinician"))
        self.who.setObjectName("audit_who")
        self.who.setClearButtonEnabled(True)
        self.kind = QComboBox()
        self.kind.setObjectName("audit_kind")
        self.kind.addItem(_("everything"), "")
        for kind in KINDS:
            self.kind.addItem(kind_word(kind), kind)
        self.use_since = QCheckBox(_("since"))
        self.since = QDateEdit(QDate.currentDate().addDays(-30))
        self.since.setCalendarPopup(True)
        self.since.setDisplayFormat("yyyy-MM-dd")
        self.since.setEnabled(False)
        for text, w in ((_("Who"), self.who), (_("What"), self.kind)):
            lay.addWidget(QLabel(text))
            lay.addWidget(w, 1 if w is self.who else 0)
        lay.addWidget(self.use_since)
        lay.addWidget(self.since)
        self.who.textChanged.connect(self._emit)
        self.kind.currentIndexChanged.connect(self._emit)
        self.use_since.toggled.connect(self.since.setEnabled)
        self.use_since.toggled.connect(self._emit)
        self.since.dateChanged.connect(self._emit)

    def query(self) -> AuditQuery:
        since = self.since.date().toPython() if self.use_since.isChecked() else None
        return AuditQuery(self.who.text(), str(self.kind.currentData() or ""), since)  # type: ignore[arg-type]

    def _emit(self, *_args: object) -> None:
        self.changed.emit(self.query())
