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
from desktop.services.i18n import N_, _, format_datetime, format_number, ngettext
from desktop.services.store import RunInfo
from desktop.services.vocabulary import CLASS_ORDER, short_name

SHOW_LABELS = {
    "all": N_("All images"),
    "to_review": N_("To review"),
    "reviewed": N_("Reviewed"),
    "disagreed": N_("Disagreed with the model"),
    "disputed": N_("Disputed (readers disagree)"),
    "referral": N_("Flagged for referral"),
}
SORT_LABELS = {
    "uncertain": N_("Most uncertain first"),
    "confidence": N_("Lowest confidence first"),
    "name": N_("File name"),
    "newest": N_("Newest first"),
    "class": N_("By class"),
}
RESCREEN = N_("Re-screen with the active model")
#: A run's state as the runs list shows it (a finished run shows none).
RUN_STATES = {"running": N_("running"), "cancelled": N_("cancelled"), "failed": N_("failed")}
COUNTED = "{label} ({count})"  # a "Show" filter with its number of photos


def model_text(run: RunInfo) -> str:
    """The model version that screened a run, as a clinician reads it: "name@hash6"."""
    return f"{run.model_name}@{run.model_version[:6]}"


def run_title(run: RunInfo, active: str | None = None) -> str:
    """Three lines for the runs list: "clinic-0312" over "412 photos · 2026-03-12 09:30" over
    the model version that screened it ("older model" when it is not the active one)."""
    name = os.path.basename(run.folder.rstrip("/\\")) or run.folder
    n = run.counts.seen or run.total or 0
    when = format_datetime(run.started_at)
    state = "" if run.status == "finished" else " · " + _(RUN_STATES.get(run.status, run.status))
    older = " " + _("(older model)") if is_older(run, active) else ""
    again = " · " + _("re-screen of #{run}").format(run=run.rescreen_of) if run.rescreen_of else ""
    photos = ngettext("{n} photo", "{n} photos", n).format(n=format_number(n))
    model = _("model {version}").format(version=model_text(run))
    return f"{name}\n{photos} · {when}{state}\n{model}{older}{again}"


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
        layout.addWidget(QLabel("<b>" + _("Runs") + "</b>"))
        self.runs = QListWidget()
        self.runs.setAccessibleName(_("Screening runs"))
        self.runs.setWordWrap(True)
        self.runs.setSpacing(2)
        self.runs.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.runs.setToolTip(_("Show the images of one screening run, or of all runs"))
        self.runs.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.runs.customContextMenuRequested.connect(self._run_menu)
        layout.addWidget(self.runs, 1)
        self._rescreen_box(layout)
        layout.addWidget(self._show_box())
        layout.addLayout(self._filter_form())
        self.by_label = QCheckBox(_("By clinician's label"))
        self.by_label.setToolTip(
            _(
                "Class filter and class sort: the clinician's label where one is given,"
                " the model's class on the other photos"
            )
        )
        layout.addWidget(self.by_label)
        self.by_label.toggled.connect(self._emit)
        self.search = QLineEdit()
        self.search.setPlaceholderText(_("Search file name (Ctrl+F)"))
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(_("Search by file name"))
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

    def _filter_form(self) -> QFormLayout:
        """Class, sort, patient and visit."""
        form = QFormLayout()
        self.cls = QComboBox()
        self.cls.addItem(_("All classes"), None)
        for c in CLASS_ORDER:
            self.cls.addItem(short_name(c), c)
        self.cls.setToolTip(_("Only images the model put in this class"))
        form.addRow(_("Class"), self.cls)
        self.sort = QComboBox()
        for key, text in SORT_LABELS.items():
            self.sort.addItem(_(text), key)
        self.sort.setToolTip(_("Order of the gallery (N jumps to the next most uncertain image)"))
        form.addRow(_("Sort"), self.sort)
        self.patient, self.visit = QLineEdit(), QLineEdit()
        fields = (
            (self.patient, _("Patient"), _("any patient"), _("Filter by patient")),
            (self.visit, _("Visit"), _("any visit"), _("Filter by visit")),
        )
        for edit, title, placeholder, accessible in fields:
            edit.setPlaceholderText(placeholder)
            edit.setClearButtonEnabled(True)
            edit.setAccessibleName(accessible)
            form.addRow(title, edit)
        return form

    def _rescreen_box(self, layout: QVBoxLayout) -> None:
        """Under the runs list: which model screened the chosen run and, when it is an older
        one, the offer to screen the folder again with the active model (a new, linked run)."""
        self._runs: dict[int, RunInfo] = {}
        self._active: str | None = None
        self._want: int | None = None  # a run to show once the list holds it
        self.run_model = QLabel()
        self.run_model.setWordWrap(True)
        self.run_model.setAccessibleName(_("Model of the chosen run"))
        self.rescreen = QPushButton(_(RESCREEN))
        self.rescreen.setToolTip(
            _(
                "Screen this run's folder again with the model in use now, as a new run linked"
                " to this one; both sets of predictions are kept"
            )
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
                _("Screened with an older model ({model}); its results are kept.").format(
                    model=model_text(run)
                )
            )
        elif (redone := self._redone(run)) is not None:
            self.run_model.setText(
                _(
                    "Screened with an older model ({model}); screened again with the"
                    " active model as run #{run}."
                ).format(model=model_text(run), run=redone.id)
            )
        else:
            self.run_model.setText(
                _("Screened with the active model ({model}).").format(model=model_text(run))
            )
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
        act = menu.addAction(_(RESCREEN), self._ask_rescreen)
        act.setEnabled(self.rescreen_offered())
        menu.exec(self.runs.viewport().mapToGlobal(pos))

    def _show_box(self) -> QGroupBox:
        box = QGroupBox(_("Show"))
        lay = QVBoxLayout(box)
        self.show_group = QButtonGroup(self)
        for n, (key, text) in enumerate(SHOW_LABELS.items()):
            rb = QRadioButton(_(text))
            rb.setProperty("key", key)
            rb.setAccessibleName(_(text))
            rb.setChecked(n == 0)
            self.show_group.addButton(rb, n)
            lay.addWidget(rb)
        self.show_group.idToggled.connect(lambda _i, on: on and self._emit())
        return box

    def set_counts(self, counts: dict[str, int]) -> None:
        """The number of photos beside each "Show" filter, e.g. "To review (37)"."""
        for button in self.show_group.buttons():
            key = button.property("key")
            label = _(SHOW_LABELS[key])
            count = counts.get(key)
            shown = COUNTED.format(label=label, count=format_number(count or 0))
            button.setText(label if count is None else shown)

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
        all_item = QListWidgetItem(_("All runs"))
        all_item.setData(Qt.ItemDataRole.UserRole, None)
        self.runs.addItem(all_item)
        row = 0
        for run in runs:
            it = QListWidgetItem(run_title(run, active))
            it.setData(Qt.ItemDataRole.UserRole, run.id)
            version = f"{run.model_name}@{run.model_version[:12]}"
            it.setToolTip(
                run.folder + "\n" + _("Screened with model {version}").format(version=version)
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
