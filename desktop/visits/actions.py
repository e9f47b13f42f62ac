"""The window's visit actions: open the visit view, screen a PATIENT/VISIT folder, and set the
patient and visit of the photos selected in the gallery (one or several)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction

from desktop.menus import make_action
from desktop.services.i18n import _
from desktop.services.visits import VisitsService
from desktop.shell.file_dialogs import choose_folder
from desktop.visits.assign_dialog import AssignDialog
from desktop.visits.visit_view import VisitView

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

LAYOUT = "patient/visit"


class VisitActions(QObject):
    """``open_view``, ``screen_by_layout`` and ``assign`` actions of ``window``."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.service = VisitsService(window.store, lambda: window.settings.clinician, window.pool)
        self.service.saved.connect(lambda text: window.statusBar().showMessage(text, 8000))
        self.service.saved.connect(lambda _t: window.refresh_all())
        self.service.failed.connect(lambda text: window.statusBar().showMessage(text, 15000))
        self.view: VisitView | None = None
        self.dialog: AssignDialog | None = None
        self.open_view = self._action(_("&Visits..."), self.show_view, "Ctrl+Shift+V",
                                      _("All photos of a visit, its decision and lab result"))  # fmt: skip
        self.screen_by_layout = self._action(
            _("Screen a PATIENT/VISIT folder..."), self.ask_folder, None,
            _("Screen a folder laid out as PATIENT/VISIT/photo: each photo gets its visit"),
        )  # fmt: skip
        self.assign = self._action(_("Set &patient and visit..."), self.ask_assign, "Ctrl+Shift+P",
                                   _("Patient and visit of the selected photos"))  # fmt: skip
        window.cases.switched.connect(self._switched)

    def _action(self, text: str, slot: Callable[[], object], keys: str | None, tip: str) -> QAction:
        return make_action(self.window, text, slot, keys, tip)

    def _switched(self, store: object) -> None:
        self.service.store = store  # type: ignore[assignment]
        if self.view is not None:
            self.view.refresh()

    def show_view(self) -> VisitView:
        """The visit view (one window, never modal), refreshed."""
        if self.view is None:
            self.view = VisitView(self.service, self.window.settings.clinic or None, self.window)
            self.view.changed.connect(self.window.refresh_all)
        self.view.refresh(self.window.filters.query().run_id)
        self.view.show()
        self.view.raise_()
        return self.view

    def ask_folder(self) -> None:
        folder = choose_folder(self.window, "screening", _("Screen a PATIENT/VISIT folder"))
        if folder:
            self.screen(folder)

    def screen(self, folder: str) -> None:
        """Screen ``folder``, each photo's patient and visit read from its place."""
        w = self.window
        if not w.screening.running:
            w.screening.start(folder, layout=LAYOUT)

    def ask_assign(self) -> AssignDialog | None:
        """The patient-and-visit form for the gallery's selected photos (not modal)."""
        items = self.window.gallery.selected_items()
        if not items:
            self.window.statusBar().showMessage(_("Select one or more photos first"), 5000)
            return None
        shas = [i.sha256 for i in items]
        first = items[0]
        self.dialog = AssignDialog(len(items), first.patient or "", first.visit or "", self.window)
        self.dialog.assigned.connect(lambda p, v: self.service.assign(shas, p, v))
        self.dialog.cleared.connect(lambda: self.service.assign(shas, None, None))
        self.dialog.show()
        return self.dialog
