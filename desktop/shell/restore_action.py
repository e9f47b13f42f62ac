"""File > Restore case store...: put a backup in place of the open case store.

The engine verifies the backup and refuses while another process (a screening, a training,
another PoxScreen window) has the store open; this window closes its own connection first, and
opens the store again afterwards through the same path as File > Open case store, so the
gallery and the active model follow, whether the restore worked or was refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from desktop.services import store as ea
from desktop.services.i18n import N_, _, ngettext
from desktop.services.tasks import run_task
from desktop.shell.file_dialogs import choose_folder

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

CONFIRM = N_(
    "The case store {location} will be replaced by the backup\n{folder}\n\n"
    "The current database is kept beside it (…before-restore-…), not deleted. Photos forgotten "
    "since the backup was made stay forgotten.\n\nPoxScreen closes the case store while it "
    "restores; the restore is refused while another program or window has it open."
)


def restored_text(result: ea.Restored) -> str:
    """What the clinician reads after a restore."""
    lines = [_("The backup was restored into {location}.").format(location=result.location)]
    if result.kept_as:
        lines.append(_("The database it replaced was kept as {path}.").format(path=result.kept_as))
    if result.reforgotten:
        lines.append(
            ngettext(
                "{n} photo forgotten since the backup was made was forgotten again.",
                "{n} photos forgotten since the backup was made were forgotten again.",
                result.reforgotten,
            ).format(n=result.reforgotten)
        )
    return "\n\n".join(lines)


class RestoreAction(QObject):
    """The action and its background job for one main window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.running = False
        self.action = QAction(_("&Restore case store..."), window)
        self.action.setToolTip(_("Replace the case store with a backup made by Back up case store"))
        self.action.triggered.connect(lambda: self.restore())

    def restore(self, folder: str | None = None) -> None:
        """Choose a backup folder (unless given), confirm, then restore on a worker."""
        w = self.window
        if self.running or w.care.busy is not None:
            return
        if w.screening.running:
            QMessageBox.information(
                w, "PoxScreen", _("Cancel the running screening before restoring a backup.")
            )
            return
        if folder is None:
            folder = choose_folder(w, "backup", _("Choose the backup folder to restore"))
        if not folder:
            return
        store = w.store
        answer = QMessageBox.question(
            w, _("Restore this backup?"), _(CONFIRM).format(location=store.location, folder=folder)
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.running = True
        self.action.setEnabled(False)
        w.statusBar().showMessage(_("Restoring {folder}...").format(folder=folder))

        def work() -> ea.Restored | BaseException:
            try:
                return ea.restore_backup(store, folder)
            except Exception as exc:  # reopened and reported on the GUI thread
                return exc

        run_task(w.pool, work, self._done)

    def _done(self, result: ea.Restored | BaseException) -> None:
        w = self.window
        self.running = False
        self.action.setEnabled(True)
        w.statusBar().clearMessage()
        w.switch_database(w.db)  # reopen: gallery, review and active model follow
        if isinstance(result, BaseException):
            reason = ea.care_error(result)
            if reason is None:
                w.reporter.report(_("The backup could not be restored"), result)
            else:
                w.reporter.report_text(_("The backup could not be restored"), reason)
            return
        done = _("Backup restored into {location}").format(location=result.location)
        w.statusBar().showMessage(done, 15_000)
        QMessageBox.information(w, _("Backup restored"), restored_text(result))
