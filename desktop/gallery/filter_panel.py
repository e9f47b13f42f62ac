"""The left pane: which run, what to show, which class, what order; plus the search box.

It owns the gallery query and emits ``queryChanged`` whenever the clinician changes any part of
it (the search box waits 250 ms after the last key so typing stays smooth).
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.gallery import GalleryQuery
from desktop.services.store import RunInfo
from desktop.services.vocabulary import CLASS_ORDER, short_name

SHOW_LABELS = {
    "all": "All images",
    "to_review": "To review",
    "reviewed": "Reviewed",
    "disagreed": "Disagreed with the model",
    "referral": "Flagged for referral",
}
SORT_LABELS = {
    "uncertain": "Most uncertain first",
    "confidence": "Lowest confidence first",
    "name": "File name",
    "newest": "Newest first",
}


def run_title(run: RunInfo) -> str:
    """Two lines for the runs list: "clinic-0312" over "412 photos · 2026-03-12 09:30"."""
    name = os.path.basename(run.folder.rstrip("/\\")) or run.folder
    n = run.counts.seen or run.total or 0
    when = run.started_at.strftime("%Y-%m-%d %H:%M")
    state = "" if run.status == "finished" else f" · {run.status}"
    return f"{name}\n{n} photo{'s' if n != 1 else ''} · {when}{state}"


class FilterPanel(QWidget):
    queryChanged = Signal(object)  # desktop.services.gallery.GalleryQuery

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(200)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(QLabel("<b>Runs</b>"))
        self.runs = QListWidget()
        self.runs.setAccessibleName("Screening runs")
        self.runs.setWordWrap(True)
        self.runs.setSpacing(2)
        self.runs.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.runs.setToolTip("Show the images of one screening run, or of all runs")
        layout.addWidget(self.runs, 1)
        layout.addWidget(self._show_box())
        form = QFormLayout()
        self.cls = QComboBox()
        self.cls.addItem("All classes", None)
        for c in CLASS_ORDER:
            self.cls.addItem(short_name(c), c)
        self.cls.setToolTip("Only images the model put in this class")
        form.addRow("Class", self.cls)
        self.sort = QComboBox()
        for key, text in SORT_LABELS.items():
            self.sort.addItem(text, key)
        self.sort.setToolTip("Order of the gallery (N jumps to the next most uncertain image)")
        form.addRow("Sort", self.sort)
        layout.addLayout(form)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search file name (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search by file name")
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        self.cls.currentIndexChanged.connect(self._emit)
        self.sort.currentIndexChanged.connect(self._emit)
        self.runs.currentRowChanged.connect(self._emit)
        self.set_runs([])

    def _show_box(self) -> QGroupBox:
        box = QGroupBox("Show")
        lay = QVBoxLayout(box)
        self.show_group = QButtonGroup(self)
        for n, (key, text) in enumerate(SHOW_LABELS.items()):
            rb = QRadioButton(text)
            rb.setProperty("key", key)
            rb.setChecked(n == 0)
            self.show_group.addButton(rb, n)
            lay.addWidget(rb)
        self.show_group.idToggled.connect(lambda _i, on: on and self._emit())
        return box

    def set_runs(self, runs: list[RunInfo]) -> None:
        """Refill the runs list, keeping the selected run when it is still there."""
        keep = self.query().run_id
        self.runs.blockSignals(True)
        self.runs.clear()
        all_item = QListWidgetItem("All runs")
        all_item.setData(Qt.ItemDataRole.UserRole, None)
        self.runs.addItem(all_item)
        row = 0
        for run in runs:
            it = QListWidgetItem(run_title(run))
            it.setData(Qt.ItemDataRole.UserRole, run.id)
            it.setToolTip(run.folder)
            self.runs.addItem(it)
            if run.id == keep:
                row = self.runs.count() - 1
        self.runs.setCurrentRow(row)
        self.runs.blockSignals(False)

    def query(self) -> GalleryQuery:
        item = self.runs.currentItem()
        button = self.show_group.checkedButton()
        return GalleryQuery(
            run_id=item.data(Qt.ItemDataRole.UserRole) if item else None,
            predicted_class=self.cls.currentData(),
            show=button.property("key") if button else "all",
            sort=self.sort.currentData() or "uncertain",
            search=self.search.text().strip(),
        )

    def set_show(self, key: str) -> None:
        for b in self.show_group.buttons():
            if b.property("key") == key:
                b.setChecked(True)

    def set_sort(self, key: str) -> None:
        self.sort.setCurrentIndex(max(0, self.sort.findData(key)))

    def set_class(self, cls: str | None) -> None:
        self.cls.setCurrentIndex(max(0, self.cls.findData(cls)))

    def _emit(self) -> None:
        self.queryChanged.emit(self.query())
