"""Re-screen with the active model: the runs pane offers it for a run screened by an older model.

It screens the run's folder again as a NEW run, linked to the earlier one (``rescreen_of`` in the
new run's options), so both sets of predictions stay, each with the model that made it; when it
finishes, the runs pane shows the new run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from desktop.services.i18n import _
from desktop.services.screening import ScreeningSummary

if TYPE_CHECKING:
    from desktop.main_window import MainWindow


class Rescreen(QObject):
    """Wires the runs pane's offer to the window's screening."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.of: int | None = None  # the run being screened again, while it runs
        window.filters.rescreenRequested.connect(self.start)
        window.screening.finished.connect(self._finished)
        window.screening.ended.connect(self._ended)

    def start(self, run_id: int) -> None:
        """Screen run ``run_id``'s folder again with the active model (a new, linked run)."""
        w = self.window
        if w.screening.running:
            w.statusBar().showMessage(_("A screening is already running."), 10_000)
            return

        def screen(folder: str) -> None:
            if w.screening.start(folder, rescreen_of=run_id):
                self.of = run_id

        w.cases.run_folder(run_id, screen)

    def _finished(self, summary: ScreeningSummary) -> None:
        if self.of is not None and summary.run_id is not None:
            self.window.filters.select_run(summary.run_id)  # the new run, beside the earlier one

    def _ended(self) -> None:
        self.of = None
