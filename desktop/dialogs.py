"""Opens the main window's dialogs: fine-tune, models, export and report, settings, help.

One of each at a time and never modal (settings and help excepted), so screening and reviewing
go on. A model change made in any of them goes through the window's ``ActiveModel``; closing the
window while a fine-tuning run goes on asks first.
"""

from __future__ import annotations

import html
from dataclasses import replace
from importlib import metadata
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QMessageBox

from desktop.reports.export_dialog import ExportDialog
from desktop.services.audit import record_settings
from desktop.services.gallery import review_filter
from desktop.services.i18n import N_, _
from desktop.services.reports import ReviewFilter
from desktop.shell.file_dialogs import open_file
from desktop.shell.help_dialog import ShortcutsDialog
from desktop.shell.settings_dialog import SettingsDialog
from desktop.training.finetune_dialog import CANCEL, STOP, FinetuneDialog
from desktop.versions.models_dialog import ModelsDialog

if TYPE_CHECKING:
    from desktop.main_window import MainWindow

ABOUT = N_(
    "<b>PoxScreen</b><br>An offline screening aid for skin photos (Mpox, Chickenpox, Measles, "
    "Normal).<br><br><b>Not a diagnosis.</b> Every result needs a clinician's judgement. Photos "
    "never leave this computer.<br><br>Shipped model and reference photos: Monkeypox Skin Images "
    "Dataset (MSID), D. Bala and M. S. Hossain, CC BY 4.0 (Bala &amp; Hossain, 2023)."
)


ABOUT_VERSIONS = N_("PoxScreen {app}<br>Model in use: {model}<br><br>")
NOT_LOADED = N_("not loaded yet")


def app_version() -> str:
    """The installed PoxScreen's version (a copy run from source without installing: "dev")."""
    try:
        return metadata.version("poxscreen")
    except metadata.PackageNotFoundError:
        return "dev"


def about_text(model: str | None) -> str:
    """The About box: app and model versions, then what PoxScreen is and the data credits."""
    model_text = html.escape(model or _(NOT_LOADED))
    return _(ABOUT_VERSIONS).format(app=app_version(), model=model_text) + _(ABOUT)


class Dialogs(QObject):
    """The window's dialogs, opened on request."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.finetune_dialog: FinetuneDialog | None = None
        self.models_dialog: ModelsDialog | None = None
        self.export_dialog: ExportDialog | None = None
        window.installEventFilter(self)

    def current_filter(self) -> ReviewFilter:
        """The gallery's filter as the engine's ReviewFilter; a report reads one model's
        predictions (the run's, else the active model's), never a mix."""
        return replace(review_filter(self.window.filters.query()), all_models=False)

    def finetune(self) -> None:
        w = self.window
        if self.finetune_dialog is None or not self.finetune_dialog.isVisible():
            self.finetune_dialog = FinetuneDialog(
                w.active, parent=w, app_settings=w.settings, admin=w.roles.admin
            )
            self.finetune_dialog.finished_run.connect(lambda _d: w.refresh_all())
        self.finetune_dialog.show()
        self.finetune_dialog.raise_()

    def models(self) -> None:
        w = self.window
        self.models_dialog = ModelsDialog(w.active, parent=w, admin=w.roles.admin)
        self.models_dialog.show()

    def audit(self) -> None:
        from desktop.audit.dialog import AuditDialog

        self.audit_dialog = AuditDialog(self.window.store, parent=self.window)
        self.audit_dialog.show()

    def export(self, report: bool = False) -> None:
        flt = self.current_filter()
        self.export_dialog = ExportDialog(
            self.window.store,
            run_id=flt.run_id,
            flt=flt,
            parent=self.window,
            clinic=self.window.settings.clinic,
        )
        self.export_dialog.show()
        if report:
            self.export_dialog.report_button.setFocus()

    def settings(self) -> None:
        w = self.window
        dlg = SettingsDialog(w.settings, w.cases.current_rule, w.roles.admin, w)
        if dlg.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_settings(dlg.apply(), dlg.rule_values())

    def apply_settings(self, changed: set[str], rule: tuple[float, float]) -> None:
        w = self.window
        s = w.settings
        if "thumb_size" in changed:
            w.gallery.set_thumb_size(s.thumb_size)
        if "device" in changed:
            w.active.set_device(s.device)
        if "colormap" in changed:
            w.review.set_colormap(s.colormap)
        if "opacity" in changed:
            w.review.set_opacity(s.opacity)
        w.review_service.colormap, w.review_service.opacity = s.colormap, s.opacity
        if changed & {"clinician", "clinic"}:
            w.status.set_who(s.clinician, s.clinic)
            names = {"clinician": s.clinician, "clinic": s.clinic}
            record_settings(w.store, s.clinician, {k: names[k] for k in changed & set(names)})
        if "referral" in changed:
            w.cases.set_referral_rule(rule[0], rule[1], s.clinician)
        if "database" in changed:
            w.switch_database(s.database or None)
        if "language" in changed:  # last: the window is built again in the new language
            from desktop.shell.language_switch import switch_language

            switch_language(w, s.language or None)

    def choose_database(self) -> None:
        path = open_file(
            self.window,
            "database",
            _("Open case store"),
            _("PoxScreen database (*.db);;All files (*)"),
        )
        if path:
            self.window.switch_database(path)

    def shortcuts(self) -> None:
        ShortcutsDialog(self.window.menus.all_actions(), self.window).exec()

    def about(self) -> None:
        handle = self.window.active.handle
        QMessageBox.about(
            self.window, _("About PoxScreen"), about_text(handle.version if handle else None)
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        """Closing the window while training: stop, keep it running in the background, or
        stay open."""
        if watched is self.window and event.type() == QEvent.Type.Close:
            dialog = self.finetune_dialog
            if dialog is not None and dialog.is_running:
                choice = dialog.ask_close()
                if choice == CANCEL:
                    event.ignore()
                    return True
                if choice == STOP:
                    dialog.stop_now()
        return False
