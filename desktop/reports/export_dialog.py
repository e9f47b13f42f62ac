"""Export dialog: the current run or filter as CSV, labelled images as class folders, and the
printable case report (PDF), all made by the engine on the thread pool.

The CSV and the PDF come from the engine (desktop.services.reports), the same code as ``poxscreen
export --format cases`` and ``poxscreen report``; the dialog only picks the selection and the
file. The clinic's name is pre-filled from the settings.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services import reports
from desktop.services.i18n import _, format_number, ngettext
from desktop.services.reports import (
    ExportSummary,
    ReportSummary,
    ReviewFilter,
    Source,
    describe_filter,
)
from desktop.services.store import Store
from desktop.services.tasks import run_in_pool
from desktop.services.vocabulary import long_name
from desktop.shell.file_dialogs import choose_folder, save_file
from desktop.shell.open_written import open_written


class _Progress(QObject):
    """Carries the report's progress from the worker thread to the GUI thread."""

    changed = Signal(int, int)


class ExportDialog(QDialog):
    """Choose what (run or filter) and how (CSV, class folders, PDF report)."""

    exported = Signal(str)  # path written

    def __init__(
        self,
        store: Store,
        run_id: int | None = None,
        flt: ReviewFilter | None = None,
        parent: QWidget | None = None,
        clinic: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Export and print"))
        self.store = store
        self.run_id = run_id
        self.flt = flt
        self.last_output: Path | None = None
        self._cancel = threading.Event()
        self._progress = _Progress()
        self._progress.changed.connect(self._show_progress)
        layout = QVBoxLayout(self)
        layout.addWidget(self._build_scope())
        layout.addWidget(self._build_report_options(clinic))
        layout.addLayout(self._build_buttons())
        self.bar = QProgressBar(visible=False)
        self.status = QLabel(wordWrap=True)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        self.resize(620, 360)

    def _build_scope(self) -> QGroupBox:
        box = QGroupBox(_("What to export"))
        col = QVBoxLayout(box)
        self.scope = QButtonGroup(self)
        self.run_choice = QRadioButton(
            _("The current screening run (#{run})").format(run=self.run_id)
            if self.run_id
            else _("No run selected")
        )
        self.filter_choice = QRadioButton(
            _("The current filter: {filter}").format(filter=describe_filter(self.flt))
            if self.flt
            else _("No filter set")
        )
        self.run_choice.setEnabled(self.run_id is not None)
        self.filter_choice.setEnabled(self.flt is not None)
        for button in (self.run_choice, self.filter_choice):
            self.scope.addButton(button)
            col.addWidget(button)
        (self.run_choice if self.run_id is not None else self.filter_choice).setChecked(True)
        return box

    def _build_report_options(self, clinic: str) -> QGroupBox:
        box = QGroupBox(_("Printed report"))
        form = QFormLayout(box)
        self.clinic = QLineEdit(clinic, placeholderText=_("printed on every page (optional)"))
        self.gradcam = QCheckBox(_("Grad-CAM overlays (slower)"), checked=True)
        form.addRow(_("Clinic"), self.clinic)
        form.addRow("", self.gradcam)
        return box

    def _build_buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.csv_button = QPushButton(_("Export CSV..."))
        self.folders_button = QPushButton(_("Labelled images as class folders..."))
        self.report_button = QPushButton(_("Print report (PDF)..."))
        self.cancel_button = QPushButton(_("Cancel report"), enabled=False)
        self.open_button = QPushButton(_("Open the exported file"), enabled=False)
        self.open_button.clicked.connect(self.open_last)
        self.exported.connect(lambda out: self.open_button.setEnabled(Path(out).is_file()))
        self.csv_button.clicked.connect(self._csv_clicked)
        self.folders_button.clicked.connect(self._folders_clicked)
        self.report_button.clicked.connect(self._report_clicked)
        self.cancel_button.clicked.connect(self._cancel.set)
        for b in (self.csv_button, self.folders_button, self.report_button, self.cancel_button,
                  self.open_button):  # fmt: skip
            row.addWidget(b)
        return row

    def source(self) -> Source:
        if self.run_choice.isChecked() and self.run_id is not None:
            return self.run_id
        return self.flt if self.flt is not None else ReviewFilter()

    def _busy(self, busy: bool) -> None:
        for b in (self.csv_button, self.folders_button, self.report_button):
            b.setEnabled(not busy)

    # --- actions ------------------------------------------------------------------------------

    def export_csv(self, out: Path) -> None:
        store, source = self.store, self.source()
        self._busy(True)
        run_in_pool(
            lambda: reports.export_cases_csv(store, out, source),
            lambda n: self._done(
                out,
                ngettext("{n} row written to {path}", "{n} rows written to {path}", n).format(
                    n=n, path=out
                ),
            ),
            self._failed,
        )

    def export_folders(self, out: Path) -> None:
        store = self.store
        run_id = (
            self.run_id if self.run_choice.isChecked() else (self.flt.run_id if self.flt else None)
        )
        self._busy(True)

        def done(summary: ExportSummary) -> None:
            self._done(out, folders_text(summary, out))

        run_in_pool(lambda: reports.export_folders(store, out, run_id), done, self._failed)

    def print_report(self, out: Path) -> None:
        store, source = self.store, self.source()
        clinic, gradcam = self.clinic.text().strip() or None, self.gradcam.isChecked()
        self._cancel.clear()
        progress = self._progress
        self._busy(True)
        self.cancel_button.setEnabled(True)
        self.bar.setVisible(True)
        self.bar.setRange(0, 0)
        self.status.setText(_("Making the report..."))

        def work() -> ReportSummary:
            return reports.print_report(
                store, out, source, clinic=clinic, gradcam=gradcam,
                on_progress=progress.changed.emit, cancel=self._cancel,
            )  # fmt: skip

        def done(summary: ReportSummary) -> None:
            self._done(out, report_text(summary, out))

        run_in_pool(work, done, self._failed)

    def _show_progress(self, done: int, total: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.status.setText(
            _("Preparing pictures: {done} of {total}").format(done=done, total=total)
        )

    def _done(self, out: Path, text: str) -> None:
        self.last_output = Path(out)
        self._busy(False)
        self.cancel_button.setEnabled(False)
        self.bar.setVisible(False)
        self.status.setText(text)
        self.exported.emit(str(out))

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        self.cancel_button.setEnabled(False)
        self.bar.setVisible(False)
        self.status.setText(_("Not exported: {error}").format(error=exc))

    def _csv_clicked(self) -> None:
        path = save_file(self, "csv", _("Export CSV"), "cases.csv", "CSV (*.csv)")
        if path:
            self.export_csv(Path(path))

    def _folders_clicked(self) -> None:
        path = choose_folder(self, "class_folders", _("Folder for the class folders"))
        if path:
            self.export_folders(Path(path))

    def _report_clicked(self) -> None:
        path = save_file(self, "report", _("Save the report"), "report.pdf", "PDF (*.pdf)")
        if path:
            self.print_report(Path(path))
            self.exported.connect(self._offer_open)

    def _offer_open(self, path: str) -> None:
        self.exported.disconnect(self._offer_open)
        if path.endswith(".pdf"):
            open_written(self, path)

    def open_last(self) -> None:
        """Open the file exported last (the CSV, or the report) with the computer's program."""
        if self.last_output is not None and self.last_output.is_file():
            open_written(self, self.last_output)


def folders_text(summary: ExportSummary, out: Path) -> str:
    """What the class folders export wrote, per class, and what it could not find."""
    per = ", ".join(f"{long_name(k)}: {v}" for k, v in summary.per_class.items()) or _("none")
    text = ngettext(
        "{n} labelled image in {path} ({per})", "{n} labelled images in {path} ({per})",
        summary.written,
    ).format(n=summary.written, path=out, per=per)  # fmt: skip
    if summary.missing:
        text += _("; {n} could not be found").format(n=len(summary.missing))
    return text


def report_text(summary: ReportSummary, out: Path) -> str:
    """The report's size, and its first note when it has notes."""
    text = _("{images} images, {pages} pages, {size} MB: {path}").format(
        images=summary.images,
        pages=summary.pages,
        size=format_number(summary.size_bytes / 2**20, 1),
        path=out,
    )
    if summary.problems:
        text += " " + _("({n} notes: {first})").format(
            n=len(summary.problems), first=summary.problems[0]
        )
    return text
