"""Wires part 2 (fine-tune, models, export, print) into the main window.

The main window (desktop stream, issue #10) leaves disabled actions "Fine-tune...", "Models...",
"Export" and "Print report..." in ``window.part2``; :func:`install_part2` enables and connects
them (or adds its own menu when a window has none), so the wiring is one call in main_window.
The current run and filter come from the window's filter bar when it has one.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

TITLES = ("Fine-tune...", "Models...", "Export", "Print report...")
TIPS = {
    "Fine-tune...": "Fine-tune the model on the clinicians' labels",
    "Models...": "Model versions: activate, roll back, import, evaluate",
    "Export": "Export the current run or filter (CSV, class folders)",
    "Print report...": "Printable case report (PDF) of the current run or filter",
}


class Part2(QObject):
    """Opens the part-2 dialogs for a main window (one of each at a time, never modal)."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.finetune_dialog: Any = None
        self.models_dialog: Any = None
        self.export_dialog: Any = None

    # --- what the window shows ----------------------------------------------------------------

    def current_filter(self) -> Any:
        """The gallery's filter as an engine ReviewFilter (None when the window has no bar)."""
        filters = getattr(self.window, "filters", None)
        if filters is None or not hasattr(filters, "query"):
            return None
        from desktop.services.engine_calls import review_filter  # desktop stream's adapter

        return review_filter(filters.query())

    def _clinic(self) -> str:
        settings = getattr(self.window, "settings", None)
        return str(getattr(settings, "clinic", "") or "")

    # --- dialogs ------------------------------------------------------------------------------

    def finetune(self) -> None:
        from desktop.training.finetune_dialog import FinetuneDialog

        if self.finetune_dialog is None or not self.finetune_dialog.isVisible():
            self.finetune_dialog = FinetuneDialog(self.window.store, parent=self.window)
            self.finetune_dialog.finished_run.connect(lambda _d: self._refresh())
        self.finetune_dialog.show()
        self.finetune_dialog.raise_()

    def models(self) -> None:
        from desktop.versions.models_dialog import ModelsDialog

        self.models_dialog = ModelsDialog(self.window.store, parent=self.window)
        self.models_dialog.active_changed.connect(self._active_changed)
        self.models_dialog.show()

    def export(self, report: bool = False) -> None:
        from desktop.reports.export_dialog import ExportDialog

        flt = self.current_filter()
        run_id = getattr(flt, "run_id", None)
        self.export_dialog = ExportDialog(
            self.window.store, run_id=run_id, flt=flt, parent=self.window, clinic=self._clinic()
        )
        self.export_dialog.show()
        if report:
            self.export_dialog.report_button.setFocus()

    def _refresh(self) -> None:
        refresh = getattr(self.window, "refresh_all", None)
        if callable(refresh):
            refresh()

    def _active_changed(self, version: str) -> None:
        """Predictions keep the version that made them; offer a re-screen with the new one."""
        self._refresh()
        flt = self.current_filter()
        run_id = getattr(flt, "run_id", None)
        screen = getattr(self.window, "screen_folder", None)
        if run_id is None or not callable(screen):
            return
        folder = self.window.store.run(run_id).folder
        answer = QMessageBox.question(
            self.window,
            "Re-screen with the new model?",
            f"The active model is now {version}. Re-screen {folder} with it? "
            "The earlier predictions are kept with the version that made them.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            screen(folder)

    # --- closing the app while training ----------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.window and event.type() == QEvent.Type.Close:
            dialog = self.finetune_dialog
            if dialog is not None and dialog.is_running:
                from desktop.training.finetune_dialog import CANCEL, STOP

                choice = dialog.ask_close()
                if choice == CANCEL:
                    event.ignore()
                    return True
                if choice == STOP:
                    dialog.proc.stop()
        return False


def install_part2(window: Any) -> Part2:
    """Enable the window's part-2 actions (or add a menu) and connect them to the dialogs."""
    part2 = Part2(window)
    actions: dict[str, QAction] = getattr(window, "part2", None) or _add_menu(window)
    slots = {
        "Fine-tune...": part2.finetune,
        "Models...": part2.models,
        "Export": part2.export,
        "Print report...": lambda: part2.export(report=True),
    }
    for title, slot in slots.items():
        action = actions[title]
        action.triggered.connect(slot)
        action.setEnabled(True)
        action.setStatusTip("")
        action.setToolTip(TIPS[title])
    window.installEventFilter(part2)
    return part2


def _add_menu(window: Any) -> dict[str, QAction]:
    menu = window.menuBar().addMenu("&Models and reports")
    actions = {title: QAction(title, window) for title in TITLES}
    for action in actions.values():
        menu.addAction(action)
    return actions
