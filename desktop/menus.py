"""Every action of the main window, its menus and its toolbar, in one place.

Each action has its key and a tooltip that shows it (Help > Keyboard shortcuts lists them); every
one is enabled from the start. The review panel brings its own actions (label keys, navigation,
overlay, zoom); the case-store care actions (back up, check, forget) come from
:class:`desktop.shell.store_actions.StoreActions`, restore from
:class:`desktop.shell.restore_action.RestoreAction`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QSizePolicy, QToolBar, QWidget

from desktop.services.i18n import _
from desktop.shell.restore_action import RestoreAction

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

Keys = str | QKeySequence.StandardKey | None


def make_action(
    parent: QWidget, text: str, slot: Callable[[], object] | None = None, keys: Keys = None,
    tip: str = "",
) -> QAction:  # fmt: skip
    """An action whose tooltip names its shortcut."""
    action = QAction(text, parent)
    if keys is not None:
        action.setShortcut(QKeySequence(keys))
    if slot is not None:
        action.triggered.connect(lambda _checked=False: slot())
    shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
    tip = tip or text.replace("&", "").rstrip(".…")
    action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
    return action


class Menus:
    """The window's actions (``act_*``), menus (``*_menu``) and toolbar."""

    def __init__(self, w: MainWindow) -> None:
        self.window = w
        self._build_actions(w)
        self._build_menus(w)
        self.toolbar = self._build_toolbar(w)

    def _build_actions(self, w: MainWindow) -> None:
        A, d = make_action, w.dialogs
        self.act_screen = A(w, _("&Screen a folder..."), w.screen_folder, "Ctrl+O",
                            _("Screen every photo in a folder and its sub-folders"))  # fmt: skip
        self.act_cancel = A(w, _("&Cancel screening"), w.cancel_screening, "Ctrl+.")
        self.act_cancel.setEnabled(False)  # enabled while a screening runs
        self.act_open_db = A(w, _("&Open case store..."), w.dialogs.choose_database)
        self.restore = RestoreAction(w)  # closes the store, restores a backup, reopens it
        self.act_restore = self.restore.action
        self.act_export = A(w, _("Export"), d.export, None,
                            _("Export the current run or filter (CSV, class folders)"))  # fmt: skip
        self.act_report = A(w, _("Print report..."), lambda: d.export(report=True), None,
                            _("Printable case report (PDF) of the current run or filter"))  # fmt: skip
        self.act_settings = A(
            w, _("S&ettings..."), d.settings, QKeySequence.StandardKey.Preferences
        )
        self.act_quit = A(w, _("&Quit"), w.close, "Ctrl+Q")
        self.act_search = A(w, _("&Find by file name"), w.focus_search, "Ctrl+F")
        self.act_finetune = A(w, _("Fine-tune..."), d.finetune, None,
                              _("Fine-tune the model on the clinicians' labels"))  # fmt: skip
        self.act_models = A(w, _("Models..."), d.models, None,
                            _("Model versions: activate, roll back, import, evaluate"))  # fmt: skip
        self.act_audit = A(w, _("&Audit trail..."), d.audit, None,
                           _("Who did what and when; readers' agreement; export as CSV"))  # fmt: skip
        self.act_refresh = A(w, _("&Refresh"), w.refresh_all, "F5")
        self.act_errors = w.errors.toggleViewAction()
        self.act_errors.setText(_("&Unreadable files"))
        self.act_shortcuts = A(w, _("&Keyboard shortcuts"), d.shortcuts, "F1")
        self.act_about = A(w, _("&About PoxScreen"), d.about)

    def _build_menus(self, w: MainWindow) -> None:
        care = w.care
        self.file_menu = self._menu(_("&File"), [
            self.act_screen, self.act_open_db, care.backup, care.check, self.act_restore, None,
            self.act_export,
            self.act_report, None, self.act_settings, None, self.act_quit,
        ])  # fmt: skip
        visits = w.visit_actions
        self._menu(_("&Screen"), [self.act_screen, visits.screen_by_layout, self.act_cancel])
        self.review_menu = self._menu(_("&Review"), [*w.review.review_actions(), None,
                                                  self.act_search])  # fmt: skip
        self.case_menu = self._case_menu(w)
        self.models_menu = self._menu(_("&Models"), [self.act_finetune, self.act_models])
        self._menu(_("&View"), [visits.open_view, self.act_errors, self.act_refresh])
        self._menu(_("&Help"), [self.act_shortcuts, self.act_about])
        for widget in (w.gallery, w.review.view):  # right-click: forget this photo
            widget.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
            widget.addAction(care.forget)
            widget.addAction(visits.assign)  # one photo or the gallery's selection

    def _case_menu(self, w: MainWindow) -> QMenu:
        """The photo on show: label it (the review keys), refer, note, forget, its folder and
        SHA-256; then visits and the audit trail."""
        review = w.review.actions
        *labels, refer = review.label_actions
        menu = self._menu(_("&Case"), [])
        self.label_menu = menu.addMenu(_("&Label"))
        self.label_menu.addActions(labels)
        case = review.case
        for action in (refer, case.note, None, w.care.forget, case.open_folder, case.copy_sha,
                       None, w.visit_actions.assign, None, self.act_audit):  # fmt: skip
            menu.addSeparator() if action is None else menu.addAction(action)
        return menu

    def _menu(self, title: str, actions: list[QAction | None]) -> QMenu:
        menu = self.window.menuBar().addMenu(title)
        for action in actions:
            menu.addSeparator() if action is None else menu.addAction(action)
        return menu

    def _build_toolbar(self, w: MainWindow) -> QToolBar:
        tb = QToolBar(_("Main"))
        tb.setObjectName("main_toolbar")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        tb.addActions([self.act_screen, self.act_finetune, self.act_export])
        tb.addSeparator()
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        tb.addWidget(spacer)
        w.filters.search.setMaximumWidth(280)
        tb.addWidget(w.filters.search)
        w.addToolBar(tb)
        return tb

    def all_actions(self) -> list[QAction]:
        """Every action in a menu (Help > Keyboard shortcuts lists them)."""
        bar = self.window.menuBar()
        return [a for m in bar.findChildren(QMenu) for a in m.actions()]
