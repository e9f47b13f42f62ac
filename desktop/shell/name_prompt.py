"""The first-start question: who is using PoxScreen, and at which clinic.

Every label, note and decision records the clinician's name, so the app asks for it once, before
the main window opens, and keeps it in the settings (Settings changes it later). Without an answer
the app does not start: a label recorded "by root" is no record at all.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from desktop.services.i18n import N_, _
from desktop.settings import Settings

INTRO = N_(
    "<b>Who is screening?</b><br>PoxScreen records your name with every label, note and "
    "decision, so the clinic can show who did what. You can change it later in Settings."
)

#: Shows the prompt and returns True when the clinician answered (tests pass their own).
NameAsker = Callable[[Settings], bool]


class NamePrompt(QDialog):
    """Clinician and clinic names; OK only once a clinician name is typed."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Welcome to PoxScreen"))
        self.setObjectName("name_prompt")
        self.settings = settings
        lay = QVBoxLayout(self)
        intro = QLabel(_(INTRO))
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        self.clinician = QLineEdit(placeholderText=_("e.g. Dr A. Mensah"))
        self.clinician.setObjectName("clinician_name")
        self.clinic = QLineEdit(settings.clinic, placeholderText=_("optional; printed on reports"))
        self.clinic.setObjectName("clinic_name")
        form.addRow(_("Your name"), self.clinician)
        form.addRow(_("Clinic"), self.clinic)
        lay.addLayout(form)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(_("Start"))
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText(_("Quit"))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.clinician.textChanged.connect(self._check)
        self._check()
        self.resize(460, self.sizeHint().height())

    def _check(self) -> None:
        self.ok.setEnabled(bool(self.clinician.text().strip()))

    def accept(self) -> None:
        """Keep the names in the settings (a blank name is never accepted)."""
        if not self.clinician.text().strip():
            return
        self.settings.clinician = self.clinician.text()
        self.settings.clinic = self.clinic.text()
        super().accept()


def ask_name(settings: Settings) -> bool:
    """Show the prompt (modal); True when the clinician gave a name."""
    return NamePrompt(settings).exec() == QDialog.DialogCode.Accepted
