"""The Audit view: who did what and when, filtered, exported as CSV, and how often the
clinicians who read the same photos agree (Cohen's kappa)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from desktop.audit.filter_bar import AuditFilterBar
from desktop.audit.table_model import AuditTableModel
from desktop.services.audit import (
    Agreement,
    AuditEvent,
    AuditQuery,
    export_events,
    load_agreement,
    load_events,
)
from desktop.services.i18n import _, format_number, ngettext
from desktop.services.store import Store
from desktop.services.tasks import run_in_pool
from desktop.shell.file_dialogs import save_file


def agreement_text(a: Agreement) -> str:
    """One line on the readers' agreement."""
    if not a.pairs:
        return _("Agreement: no photo has labels from two clinicians yet.")
    kappa = format_number(a.kappa, 2) if a.kappa is not None else _("undefined")
    return _(
        "Agreement between readers: {agreed} of {pairs} pairs agree on {photos} photos; "
        "Cohen's kappa {kappa}"
    ).format(agreed=a.agreed, pairs=a.pairs, photos=a.photos, kappa=kappa)


class AuditDialog(QDialog):
    """The audit trail of the open case store; read-only (nothing here can change an event)."""

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Audit trail"))
        self.setObjectName("audit_dialog")
        self.store = store
        self.loading = False
        self._asked = 0
        self.filters = AuditFilterBar()
        self.model = AuditTableModel()
        self.table = QTableView()
        self.table.setObjectName("audit_table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setWordWrap(False)
        self.count = QLabel()
        self.agreement = QLabel(_("Agreement: reading..."))
        self.agreement.setObjectName("audit_agreement")
        self.export_button = QPushButton(_("Export CSV..."))
        close = QPushButton(_("Close"))
        lay = QVBoxLayout(self)
        lay.addWidget(self.filters)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.agreement)
        bottom = QHBoxLayout()
        bottom.addWidget(self.count, 1)
        bottom.addWidget(self.export_button)
        bottom.addWidget(close)
        lay.addLayout(bottom)
        self.filters.changed.connect(self.reload)
        self.export_button.clicked.connect(self._ask_export)
        close.clicked.connect(self.accept)
        self.resize(1000, 560)
        self.reload(self.filters.query())
        run_in_pool(lambda: load_agreement(store), self._on_agreement, self._on_error)

    def reload(self, query: AuditQuery) -> None:
        """Read the events again; only the answer to the latest query is shown (answers to
        earlier ones may arrive after it)."""
        self.loading = True
        self._asked += 1
        asked = self._asked
        run_in_pool(
            lambda: (asked, load_events(self.store, query)), self._on_events, self._on_error
        )

    def _on_events(self, answer: tuple[int, list[AuditEvent]]) -> None:
        asked, events = answer
        if asked != self._asked:
            return
        self.loading = False
        self.model.set_events(events)
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()
        for column in range(self.model.columnCount() - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        self.count.setText(ngettext("{n} event", "{n} events", len(events)).format(n=len(events)))
        self.export_button.setEnabled(bool(events))

    def _on_agreement(self, a: Agreement) -> None:
        self.agreement.setText(agreement_text(a))

    def _on_error(self, exc: BaseException) -> None:
        self.loading = False
        self.count.setText(_("Could not read the audit trail: {error}").format(error=exc))

    def _ask_export(self) -> None:
        path = save_file(self, "audit", _("Export the audit trail"), "audit.csv", "CSV (*.csv)")
        if path:
            self.export_to(Path(path))

    def export_to(self, path: Path) -> None:
        """Write the events shown (the filter applies) as CSV."""
        events = list(self.model.events)
        run_in_pool(
            lambda: export_events(self.store, events, path),
            lambda n: self.count.setText(
                ngettext("{n} event exported to {file}", "{n} events exported to {file}", n).format(
                    n=n, file=path.name
                )
            ),
            self._on_export_error,
        )

    def _on_export_error(self, exc: BaseException) -> None:
        QMessageBox.warning(
            self, _("Audit trail"), _("The audit trail was not written: {error}").format(error=exc)
        )
