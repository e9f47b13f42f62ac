"""The visit view: every photo of a visit side by side, the most suspicious first, each with its
class and referral state; the visit's decision (keys 1-4 and R), its lab result and its report.

A window of its own (never modal), so the gallery stays usable. All reads and writes go through
:class:`desktop.services.visits.VisitsService` on the thread pool.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from desktop.review.label_bar import LabelBar, button_key
from desktop.services.i18n import _, ngettext
from desktop.services.visits import VisitDetail, VisitRow, VisitsService
from desktop.services.vocabulary import REFER, long_name
from desktop.shell.file_dialogs import save_file
from desktop.visits.lab_form import LabForm
from desktop.visits.photo_card import PhotoCard
from desktop.visits.visit_list import VisitList


def referral_text(row: VisitRow) -> str:
    """ "Referred: 1 of 3 photos", or "Not referred: no photo is" (the visit is referred when
    any of its photos is)."""
    if row.referred:
        return ngettext(
            "Referred: {n} of {total} photo", "Referred: {n} of {total} photos", row.photos
        ).format(n=row.referred_photos, total=row.photos)
    return ngettext(
        "Not referred: its one photo is not", "Not referred: none of its {total} photos is",
        row.photos,
    ).format(total=row.photos)  # fmt: skip


class VisitView(QWidget):
    """The visits list and the chosen visit; ``changed`` after a decision or lab result."""

    changed = Signal()

    def __init__(
        self, service: VisitsService, clinic: str | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent, Qt.WindowType.Window)
        self.setWindowTitle(_("Visits - PoxScreen"))
        self.setObjectName("visit_view")
        self.service, self.clinic = service, clinic
        self.visit: tuple[str, str] | None = None
        self.detail: VisitDetail | None = None
        self._build()
        service.rows.connect(self.list.set_rows)
        service.comparison.connect(self.comparison.setText)
        service.detail.connect(self._show_detail)
        service.saved.connect(self._saved)
        service.failed.connect(
            lambda text: self.message.setText(_("Not saved: {error}").format(error=text))
        )
        self.list.chosen.connect(self.open_visit)
        self.decision_bar.chosen.connect(self.decide)
        self.lab.submitted.connect(self._save_lab)
        self.report_button.clicked.connect(self._ask_report)
        self.resize(1180, 720)

    def _build(self) -> None:
        self.list = VisitList()
        self.comparison = QLabel("")
        self.comparison.setWordWrap(True)
        self.comparison.setAccessibleName(_("Against the lab"))
        self.title = QLabel(_("Choose a visit"))
        self.title.setStyleSheet("font-size: 15pt; font-weight: bold;")
        self.referral = QLabel("")
        self.strip = QWidget()
        self.strip_layout = QHBoxLayout(self.strip)
        self.strip_layout.setAlignment(Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.strip)
        scroll.setMinimumHeight(400)
        self.decision_bar = LabelBar()
        self.decision_text = QLabel(_("No visit decision yet"))
        decision = QGroupBox(_("Visit decision (keys 1-4, R)"))
        box = QVBoxLayout(decision)
        box.addWidget(self.decision_text)
        box.addWidget(self.decision_bar)
        self.lab = LabForm()
        self.report_button = QPushButton(_("Print visit report..."))
        self.message = QLabel("")
        self.message.setWordWrap(True)
        bottom = QHBoxLayout()
        bottom.addWidget(decision, 1)
        bottom.addWidget(self.lab, 1)
        right = QWidget()
        lay = QVBoxLayout(right)
        for widget in (self.title, self.referral):
            lay.addWidget(widget)
        lay.addWidget(scroll, 1)
        lay.addLayout(bottom)
        row = QHBoxLayout()
        row.addWidget(self.message, 1)
        row.addWidget(self.report_button)
        lay.addLayout(row)
        left = QWidget()
        left_lay = QVBoxLayout(left)
        left_lay.setContentsMargins(0, 0, 0, 0)
        left_lay.addWidget(self.list, 1)
        left_lay.addWidget(self.comparison)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([330, 850])
        outer = QVBoxLayout(self)
        outer.addWidget(splitter)
        self.set_visit_enabled(False)

    def set_visit_enabled(self, enabled: bool) -> None:
        for widget in (self.decision_bar, self.lab, self.report_button):
            widget.setEnabled(enabled)

    def refresh(self, run_id: int | None = None) -> None:
        """Read the visits again (the current one stays chosen)."""
        self.service.load_rows(run_id)

    def open_visit(self, patient: str, visit: str) -> None:
        self.visit = (patient, visit)
        self.title.setText(
            _("Patient {patient}  /  visit {visit}").format(patient=patient, visit=visit)
        )
        self.service.load_visit(patient, visit)

    def _show_detail(self, detail: VisitDetail) -> None:
        if self.visit != (detail.row.patient, detail.row.visit):
            return  # an answer for a visit no longer shown
        self.detail = detail
        self.referral.setText(referral_text(detail.row))
        colour = "#c0392b" if detail.row.referred else "#2d6a4f"
        self.referral.setStyleSheet(f"color: {colour}; font-weight: bold;")
        while self.strip_layout.count():
            item = self.strip_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        for card in detail.cards:
            self.strip_layout.addWidget(PhotoCard(card))
        self._set_classes(detail.classes)
        self.decision_bar.set_current(detail.row.decision)
        decided = detail.row.decision
        who = f" ({detail.row.decided_by})" if detail.row.decided_by else ""
        self.decision_text.setText(
            _("Decision: {decision}").format(decision=long_name(decided)) + who
            if decided
            else _("No visit decision yet")
        )
        self.lab.show_row(detail.row)
        self.set_visit_enabled(True)

    def _set_classes(self, classes: list[str]) -> None:
        if classes == self.decision_bar.classes():
            return
        self.decision_bar.set_classes(classes)
        for shortcut in self.findChildren(QShortcut):
            shortcut.deleteLater()
        for i, name in enumerate([*classes, REFER]):
            key = QShortcut(QKeySequence(button_key(i, name)), self)
            key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            key.activated.connect(lambda n=name: self.decide(n))

    def decide(self, decision: str) -> None:
        """Record the visit decision (a class or refer) for the visit shown."""
        if self.visit is None or self.detail is None:
            return
        self.message.setText(_("Saving the visit decision..."))
        self.service.decide(*self.visit, decision)

    def _save_lab(self, result: str, date: str, test: str) -> None:
        if self.visit is None:
            return
        self.message.setText(_("Saving the lab result..."))
        self.service.set_lab(*self.visit, result, date, test)

    def _saved(self, text: str) -> None:
        self.message.setText(text)
        self.changed.emit()
        self.refresh()
        if self.visit is not None:
            self.service.load_visit(*self.visit)

    def _ask_report(self) -> None:
        if self.visit is None:
            return
        name = f"visit-{self.visit[0]}-{self.visit[1]}.pdf"
        out = save_file(self, "report", _("Save the visit report"), name, "PDF (*.pdf)")
        if out:
            self.write_report(Path(out))

    def write_report(self, out: Path) -> None:
        """Print the visit's report to ``out`` on the pool (the message says when it is done)."""
        if self.visit is None:
            return
        self.message.setText(_("Writing the visit report to {path}...").format(path=out))
        self.service.report(*self.visit, out, self.clinic)
