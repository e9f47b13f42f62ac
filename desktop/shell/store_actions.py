"""Patient-data care from the desktop: forget a photo, back up and check the case store.

The engine does the work (``Store.forget`` / ``backup`` / ``check``, the same as
``poxscreen forget|backup|check``); this module makes the actions (desktop.menus puts them in the menus and
context menus), asks before anything that cannot be undone, runs each call on the window's pool
through desktop.services.tasks (never on the GUI thread) and says what happened in plain words. One of
these jobs runs at a time, with a busy cursor and a status-bar line meanwhile.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox, QWidget

from desktop.gallery.tile_delegate import item_name
from desktop.services import store as ea
from desktop.services.i18n import N_, _, format_number, ngettext
from desktop.services.store import ReviewItem
from desktop.services.tasks import run_task
from desktop.shell.file_dialogs import choose_folder
from desktop.shell.role_gate import admin_tip

if TYPE_CHECKING:
    from desktop.main_window import MainWindow
    from desktop.shell.error_reporting import ErrorReporter

log = logging.getLogger(__name__)

FORGET_REMOVED = N_(
    "Removed from this computer: the case store's copy of the photo, its thumbnails and "
    "previews, and the name and folder of the file it was screened from."
)
FORGET_KEPT = N_(
    "Kept: the photo's fingerprint (SHA-256), the model's predictions and the label history, "
    "so the record still shows what was decided, by whom and when."
)
FORGET_NOTE = N_(
    "The original file in your folder is not touched: delete it yourself if it must go "
    "(screening that folder again would add the photo again).\n\nThis cannot be undone."
)
SHOWN_PROBLEMS = 10


FORGET_TIP = N_(
    "Delete this photo's copy, thumbnails, previews and file name from the case store; "
    "its history is kept"
)


def forget_box(parent: QWidget, name: str) -> tuple[QMessageBox, QAbstractButton]:
    """The confirmation for forgetting ``name`` and its "Forget photo" button (Cancel is the
    default, so Enter never deletes anything)."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(_("Forget this photo?"))
    box.setText("<b>" + _("Forget the photo {name}?").format(name=html.escape(name)) + "</b>")
    box.setInformativeText("\n\n".join(_(t) for t in (FORGET_REMOVED, FORGET_KEPT, FORGET_NOTE)))
    forget = box.addButton(_("Forget photo"), QMessageBox.ButtonRole.DestructiveRole)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(cancel)
    box.setEscapeButton(cancel)
    return box, forget


def confirm_forget(parent: QWidget, name: str) -> bool:
    """Ask before forgetting: True only when the clinician chose "Forget photo"."""
    box, forget = forget_box(parent, name)
    box.exec()
    return box.clickedButton() is forget


def backup_text(info: ea.BackupView, location: str) -> str:
    """What the clinician reads after a backup: where it is, what it holds, how to use it."""
    holds = ngettext(
        "It holds the database (every screening result, label and history) and {n} image copy"
        " ({mb} MB).",
        "It holds the database (every screening result, label and history) and {n} image copies"
        " ({mb} MB).",
        info.images,
    ).format(n=format_number(info.images), mb=format_number(info.bytes / 2**20, 1))
    return (
        _("The case store was backed up to:\n{folder}").format(folder=info.folder)
        + f"\n\n{holds}\n\n"
        + _(
            "Keep backups on another disk. To put this one back, use File > Restore case"
            " store... or run:"
        )
        + f'\npoxscreen restore "{info.folder}" --db "{location}"'
    )


def problems_text(problems: list[str], location: str) -> str:
    """The check's findings and what to do about them."""
    shown = [f"• {p}" for p in problems[:SHOWN_PROBLEMS]]
    if len(problems) > SHOWN_PROBLEMS:
        shown.append(_("... and {n} more").format(n=len(problems) - SHOWN_PROBLEMS))
    return (
        _("The case store {location} is damaged. The check found:").format(location=location)
        + "\n\n"
        + "\n".join(shown)
        + "\n\n"
        + _(
            "What to do: stop screening and labelling in this case store, and restore your "
            "latest backup (File > Back up case store... makes them) with File > Restore case "
            "store..., or run:"
        )
        + f'\npoxscreen restore BACKUP_FOLDER --db "{location}"\n'
        + _(
            "The damaged database is kept beside it, not deleted. Without a backup, ask your IT "
            "support before changing anything."
        )
    )


class StoreActions(QObject):
    """The three actions and their background jobs for one main window."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.busy: str | None = None  # the status line of the job running, None when idle
        self._reshow: str | None = None  # forgotten photo to show again once re-read
        self.forget = QAction(_("&Forget this photo..."), window)
        self.forget.setToolTip(_(FORGET_TIP))
        self.forget.triggered.connect(self.forget_current)
        self.backup = QAction(_("&Back up case store..."), window)
        self.backup.setToolTip(_("Copy the database and its image copies into a folder"))
        self.backup.triggered.connect(lambda: self.backup_store())
        self.check = QAction(_("C&heck case store"), window)
        self.check.setToolTip(_("Full integrity check of the case store's database"))
        self.check.triggered.connect(self.check_store)
        window.gallery.currentItemChanged.connect(lambda _item: self.update_enabled())
        window.model.modelReset.connect(self.update_enabled)
        window.model.pageArrived.connect(self._on_page)
        window.roles.changed.connect(lambda _admin: self.update_enabled())
        self.update_enabled()

    # --- forget ----------------------------------------------------------------------------

    def current_item(self) -> ReviewItem | None:
        """The photo the actions apply to: the gallery's selection (the panel shows it)."""
        item = self.window.gallery.current_item()
        if item is None:
            item = self.window.review.current_item()
        return item

    def forget_current(self) -> None:
        """Ask, then forget the selected photo on a worker; the gallery and panel follow."""
        item = self.current_item()
        if item is None or self.busy is not None:
            return
        name = item_name(item)
        if not confirm_forget(self.window, name):
            return
        sha, store, thumbs = item.sha256, self.window.store, self.window.thumbs
        decoding = thumbs.forget(sha)  # no new thumbnail of it from now on
        if self._showing(sha):
            self.window.review.show_item(None)  # its photo and Grad-CAM leave the screen now

        def work() -> ea.Forgotten:
            if decoding:  # let a running decode finish, so no thumbnail is written afterwards
                thumbs.wait(10_000)
            return ea.forget_case(store, sha, thumbs.cache)

        self._run(
            _("Forgetting {name}...").format(name=name),
            work,
            lambda result: self._forgotten(name, result),
            _("{name} could not be forgotten").format(name=name),
        )

    def _showing(self, sha: str) -> bool:
        shown = self.window.review.current_item()
        return shown is not None and shown.sha256 == sha

    def _forgotten(self, name: str, result: ea.Forgotten) -> None:
        self._reshow = result.sha256
        self.window.model.refresh()
        self.window.statusBar().showMessage(
            _("Forgot {name}: {removed} files deleted; kept its {kept}.").format(
                name=name, removed=result.removed, kept=result.kept
            ),
            15_000,
        )
        if result.failed:
            self._reporter().report_text(
                _("Some files of the forgotten photo {name} could not be deleted").format(
                    name=name
                ),
                "; ".join(result.failed[:3]),
                "\n".join(result.failed),
            )

    def _on_page(self, _rows: int) -> None:
        """Once the gallery has re-read a forgotten photo, the panel shows its record again
        (history and predictions; a page read before the forget still names the file)."""
        sha = self._reshow
        if sha is None:
            return
        item = self.window.gallery.current_item()
        if item is None or item.sha256 != sha:
            self._reshow = None  # the clinician has moved on
            return
        if item.path or item.stored_path:
            return  # an older page: wait for the refresh
        self._reshow = None
        self.window.review.show_item(item)

    # --- backup and check ------------------------------------------------------------------

    def backup_store(self, dest: str | None = None) -> None:
        """Choose a folder (unless given), then back the case store up into it on a worker."""
        if self.busy is not None:
            return
        if dest is None:
            dest = choose_folder(self.window, "backup", _("Back up the case store into a folder"))
        if not dest:
            return
        store = self.window.store
        self._run(
            _("Backing up the case store to {folder}...").format(folder=dest),
            lambda: ea.backup_store(store, dest),
            lambda info: self._backed_up(info, store.location),
            _("The case store could not be backed up to {folder}").format(folder=dest),
        )

    def _backed_up(self, info: ea.BackupView, location: str) -> None:
        written = _("Backup written: {folder}").format(folder=info.folder)
        self.window.statusBar().showMessage(written, 15_000)
        QMessageBox.information(self.window, _("Backup written"), backup_text(info, location))

    def check_store(self) -> None:
        """The full integrity check on a worker (slow on a big store), then its findings."""
        if self.busy is not None:
            return
        store = self.window.store
        self._run(
            _("Checking the case store (a minute or more for a large one)..."),
            lambda: ea.check_store(store),
            lambda problems: self._checked(problems, store.location),
            _("The case store {location} could not be checked").format(location=store.location),
        )

    def _checked(self, problems: list[str], location: str) -> None:
        if not problems:
            bar = self.window.statusBar()
            bar.showMessage(_("Case store checked: no problems found"), 15_000)
            QMessageBox.information(
                self.window,
                _("Case store checked"),
                _(
                    "No problems found in {location}.\n\nThe full integrity check found the "
                    "database sound."
                ).format(location=location),
            )
            return
        log.error("case store check of %s: %s", location, problems[:SHOWN_PROBLEMS])
        QMessageBox.warning(self.window, _("Case store damaged"), problems_text(problems, location))

    # --- running -----------------------------------------------------------------------------

    def _run(
        self, doing: str, fn: Callable[[], Any], on_done: Callable[[Any], None], what: str
    ) -> None:
        """``fn`` on the window's pool with the busy state on; errors become a message that
        names what failed and why (store and file errors without a traceback)."""
        self._set_busy(doing)

        def done(result: Any) -> None:
            self._set_busy(None)
            on_done(result)

        def failed(exc: BaseException) -> None:
            self._set_busy(None)
            reason = ea.care_error(exc)
            if reason is None:  # a bug: the traceback stays behind "Show Details..."
                self._reporter().report(what, exc)
            else:
                self._reporter().report_text(what, reason)

        run_task(self.window.pool, fn, done, on_error=failed)

    def _reporter(self) -> ErrorReporter:
        return self.window.reporter

    def _set_busy(self, doing: str | None) -> None:
        was_busy, self.busy = self.busy is not None, doing
        bar = self.window.statusBar()
        if doing is None:
            bar.clearMessage()
            if was_busy:
                QApplication.restoreOverrideCursor()
        else:
            bar.showMessage(doing)
            if not was_busy:
                QApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        self.update_enabled()

    def update_enabled(self) -> None:
        """Enable what can run now (forgetting needs a photo selected and the admin role)."""
        idle, admin = self.busy is None, self.window.roles.admin
        self.forget.setEnabled(idle and self.current_item() is not None and admin)
        self.forget.setToolTip(admin_tip(_(FORGET_TIP), admin))
        self.backup.setEnabled(idle)
        self.check.setEnabled(idle)
