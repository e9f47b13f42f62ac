"""What the clinician set, kept across sessions: the window layout, the gallery's filter and
sort, the selected run and the current photo (by SHA-256), and the folders file dialogs start
in. Saved at close, put back at the next start before the first page is read, so restoring
costs no extra query."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from desktop.shell import file_dialogs

if TYPE_CHECKING:
    from desktop.main_window import MainWindow


class SessionState(QObject):
    """Saves and restores the gallery state of ``window`` through its Settings."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.pending_sha: str | None = None
        file_dialogs.use_settings(window.settings)  # each file dialog starts where it was left
        self.restore()

    def restore(self) -> None:
        """Put the saved filter, sort and run in the filter panel (call before its signals are
        connected), and select the saved photo once the gallery has read it."""
        w, saved = self.window, self.window.settings.gallery_state()
        w.settings.restore_window(w, w.splitter)
        f = w.filters
        f.set_show(saved["show"])
        f.set_sort(saved["sort"])
        f.set_class(saved["class"] or None)
        f.by_label.setChecked(saved["by_label"])
        if saved["run"] is not None:
            f.select_run(saved["run"])
        self.pending_sha = saved["photo"] or None
        if self.pending_sha:
            w.model.pageArrived.connect(self._select_photo)

    def _select_photo(self, _rows: int) -> None:
        w = self.window
        if not self.pending_sha or w.gallery.current_item() is not None:
            self._done()
            return
        row = w.model.row_of(self.pending_sha)
        if row >= 0 and w.gallery.select_row(row):
            self._done()

    def _done(self) -> None:
        self.pending_sha = None
        self.window.model.pageArrived.disconnect(self._select_photo)

    def save(self) -> None:
        w = self.window
        w.settings.save_window(w, w.splitter)
        query, item = w.filters.query(), w.gallery.current_item()
        w.settings.save_gallery_state(
            show=query.show,
            sort=query.sort,
            cls=query.predicted_class or "",
            by_label=query.by_label,
            run=query.run_id,
            photo=item.sha256 if item is not None else (self.pending_sha or ""),
        )
