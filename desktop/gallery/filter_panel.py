"""The left pane: which run, what to show, which class, what order; plus the search box.

It owns the gallery query and emits ``queryChanged`` whenever the clinician changes any part of
it (the search box waits 250 ms after the last key so typing stays smooth).
"""

from __future__ import annotations

import os

from PySide6.QtCore import QPoint, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
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
    "disputed": "Disputed (readers disagree)",
    "referral": "Flagged for referral",
}
SORT_LABELS = {
    "uncertain": "Most uncertain first",
    "confidence": "Lowest confidence first",
    "name": "File name",
    "newest": "Newest first",
    "class": "By class",
}
RESCREEN = "Re-screen with the active model"
COUNTED = "{label} ({count})"  # a "Show" filter with its number of photos


def model_text(run: RunInfo) -> str:
    """The model version that screened a run, as a clinician reads it: "name@hash6"."""
    return f"{run.model_name}@{run.model_version[:6]}"


def run_title(run: RunInfo, active: str | None = None) -> str:
    """Three lines for the runs list: "clinic-0312" over "412 photos · 2026-03-12 09:30" over
    the model version that screened it ("older model" when it is not the active one)."""
    name = os.path.basename(run.folder.rstrip("/\\")) or run.folder
    n = run.counts.seen or run.total or 0
    when = run.started_at.strftime("%Y-%m-%d %H:%M")
    state = "" if run.status == "finished" else f" · {run.status}"
    older = " (older model)" if is_older(run, active) else ""
    again = f" · re-screen of #{run.rescreen_of}" if run.rescreen_of else ""
    return (
        f"{name}\n{n} photo{'s' if n != 1 else ''} · {when}{state}\n"
        f"model {model_text(run)}{older}{again}"
    )


def is_older(run: RunInfo, active: str | None) -> bool:
    """The run was screened by a model that is not the active one."""
    return active is not None and run.model_version != active


class FilterPanel(QWidget):
    queryChanged = Signal(object)  # desktop.services.gallery.GalleryQuery
    rescreenRequested = Signal(int)  # the id of a run screened by an older model

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
        self.runs.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.runs.customContextMenuRequested.connect(self._run_menu)
        layout.addWidget(self.runs, 1)
        self._rescreen_box(layout)
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
        self.patient, self.visit = QLineEdit(), QLineEdit()
        for edit, what in ((self.patient, "patient"), (self.visit, "visit")):
            edit.setPlaceholderText(f"any {what}")
            edit.setClearButtonEnabled(True)
            edit.setAccessibleName(f"Filter by {what}")
            form.addRow(what.capitalize(), edit)
        layout.addLayout(form)
        self.by_label = QCheckBox("By clinician's label")
        self.by_label.setToolTip(
            "Class filter and class sort: the clinician's label where one is given,"
            " the model's class on the other photos"
        )
        layout.addWidget(self.by_label)
        self.by_label.toggled.connect(self._emit)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search file name (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search by file name")
        self._debounce = QTimer(self, singleShot=True, interval=250)
        self._debounce.timeout.connect(self._emit)
        self.search.textChanged.connect(lambda _t: self._debounce.start())
        for edit in (self.patient, self.visit):
            edit.textChanged.connect(lambda _t: self._debounce.start())
        self.cls.currentIndexChanged.connect(self._emit)
        self.sort.currentIndexChanged.connect(self._emit)
        self.runs.currentRowChanged.connect(self._emit)
        self.runs.currentRowChanged.connect(lambda _r: self._update_rescreen())
        self.set_runs([])

    def _rescreen_box(self, layout: QVBoxLayout) -> None:
        """Under the runs list: which model screened the chosen run and, when it is an older
        one, the offer to screen the folder again with the active model (a new, linked run)."""
        self._runs: dict[int, RunInfo] = {}
        self._active: str | None = None
        self._want: int | None = None  # a run to show once the list holds it
        self.run_model = QLabel()
        self.run_model.setWordWrap(True)
        self.run_model.setAccessibleName("Model of the chosen run")
        self.rescreen = QPushButton(RESCREEN)
        self.rescreen.setToolTip(
            "Screen this run's folder again with the model in use now, as a new run linked to"
            " this one; both sets of predictions are kept"
        )
        self.rescreen.clicked.connect(self._ask_rescreen)
        layout.addWidget(self.run_model)
        layout.addWidget(self.rescreen)

    def chosen_run(self) -> RunInfo | None:
        run_id = self.query().run_id
        return self._runs.get(run_id) if run_id is not None else None

    def rescreen_offered(self) -> bool:
        """The chosen run was screened by an older model and not yet again by the active one."""
        run = self.chosen_run()
        return run is not None and is_older(run, self._active) and self._redone(run) is None

    def _redone(self, run: RunInfo) -> RunInfo | None:
        """The run that screened ``run``'s folder again with the active model, if any."""
        again = [
            r
            for r in self._runs.values()
            if r.rescreen_of == run.id and not is_older(r, self._active)
        ]
        return max(again, key=lambda r: r.id) if again else None

    def select_run(self, run_id: int) -> None:
        """Show that run (when the list holds it; else once ``set_runs`` brings it)."""
        self._want = run_id
        for row in range(self.runs.count()):
            if self.runs.item(row).data(Qt.ItemDataRole.UserRole) == run_id:
                self._want = None
                self.runs.setCurrentRow(row)

    def _update_rescreen(self) -> None:
        run = self.chosen_run()
        offered = self.rescreen_offered()
        if run is None:
            self.run_model.setText("")
        elif offered:
            self.run_model.setText(
                f"Screened with an older model ({model_text(run)}); its results are kept."
            )
        elif (redone := self._redone(run)) is not None:
            self.run_model.setText(
                f"Screened with an older model ({model_text(run)}); screened again with the"
                f" active model as run #{redone.id}."
            )
        else:
            self.run_model.setText(f"Screened with the active model ({model_text(run)}).")
        self.run_model.setVisible(run is not None)
        self.rescreen.setVisible(offered)

    def _ask_rescreen(self) -> None:
        run = self.chosen_run()
        if run is not None and self.rescreen_offered():
            self.rescreenRequested.emit(run.id)

    def _run_menu(self, pos: QPoint) -> None:
        item = self.runs.itemAt(pos)
        if item is None or item.data(Qt.ItemDataRole.UserRole) is None:
            return
        self.runs.setCurrentItem(item)
        menu = QMenu(self)
        act = menu.addAction(RESCREEN, self._ask_rescreen)
        act.setEnabled(self.rescreen_offered())
        menu.exec(self.runs.viewport().mapToGlobal(pos))

    def _show_box(self) -> QGroupBox:
        box = QGroupBox("Show")
        lay = QVBoxLayout(box)
        self.show_group = QButtonGroup(self)
        for n, (key, text) in enumerate(SHOW_LABELS.items()):
            rb = QRadioButton(text)
            rb.setProperty("key", key)
            rb.setAccessibleName(text)
            rb.setChecked(n == 0)
            self.show_group.addButton(rb, n)
            lay.addWidget(rb)
        self.show_group.idToggled.connect(lambda _i, on: on and self._emit())
        return box

    def set_counts(self, counts: dict[str, int]) -> None:
        """The number of photos beside each "Show" filter, e.g. "To review (37)"."""
        for button in self.show_group.buttons():
            key = button.property("key")
            label = SHOW_LABELS[key]
            count = counts.get(key)
            button.setText(label if count is None else COUNTED.format(label=label, count=count))

    def counts(self) -> dict[str, str]:
        """What each "Show" filter reads now (tests, accessibility)."""
        return {b.property("key"): b.text() for b in self.show_group.buttons()}

    def set_runs(self, runs: list[RunInfo], active: str | None = None) -> None:
        """Refill the runs list, keeping the selected run when it is still there; ``active``:
        the active model's content hash (a run screened by another offers a re-screen)."""
        keep = self.query().run_id
        self._runs, self._active = {r.id: r for r in runs}, active
        self.runs.blockSignals(True)
        self.runs.clear()
        all_item = QListWidgetItem("All runs")
        all_item.setData(Qt.ItemDataRole.UserRole, None)
        self.runs.addItem(all_item)
        row = 0
        for run in runs:
            it = QListWidgetItem(run_title(run, active))
            it.setData(Qt.ItemDataRole.UserRole, run.id)
            it.setToolTip(
                f"{run.folder}\nScreened with model {run.model_name}@{run.model_version[:12]}"
            )
            self.runs.addItem(it)
            if run.id == keep:
                row = self.runs.count() - 1
        self.runs.setCurrentRow(row)
        self.runs.blockSignals(False)
        self._update_rescreen()
        if self._want is not None:
            self.select_run(self._want)

    def query(self) -> GalleryQuery:
        item = self.runs.currentItem()
        button = self.show_group.checkedButton()
        return GalleryQuery(
            run_id=item.data(Qt.ItemDataRole.UserRole) if item else None,
            predicted_class=self.cls.currentData(),
            show=button.property("key") if button else "all",
            sort=self.sort.currentData() or "uncertain",
            search=self.search.text().strip(),
            by_label=self.by_label.isChecked(),
            patient=self.patient.text().strip(),
            visit=self.visit.text().strip(),
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
