"""The audit events as a Qt table model (one row per event, newest last)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from desktop.services.audit import AuditEvent, details_text, kind_word
from desktop.services.i18n import N_, _

HEADERS = (N_("When (UTC)"), N_("Who"), N_("Workstation"), N_("What"), N_("Object"), N_("Details"))
Index = QModelIndex | QPersistentModelIndex


def _object_text(obj: str | None) -> str:
    if not obj:
        return ""
    kind, _, ident = obj.partition(":")
    return f"{kind} {ident[:12]}" if ident else obj


class AuditTableModel(QAbstractTableModel):
    """Events shown in the Audit view; the full object name is the tooltip."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[AuditEvent] = []

    def set_events(self, events: list[AuditEvent]) -> None:
        self.beginResetModel()
        self.events = list(events)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 (Qt API)
        return 0 if parent.isValid() else len(self.events)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802 (Qt API)
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(  # noqa: N802 (Qt API)
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return _(HEADERS[section])
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e = self.events[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return self.cell(e, index.column())
        if role == Qt.ItemDataRole.ToolTipRole:
            return e.object if index.column() == 4 else self.cell(e, index.column())
        return None

    @staticmethod
    def cell(e: AuditEvent, column: int) -> str:
        values = (
            e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{e.who} [{e.db_user}]" if e.db_user else e.who,  # [the server's user]
            e.host,
            kind_word(e.kind),
            _object_text(e.object),
            details_text(e),
        )
        return values[column]
