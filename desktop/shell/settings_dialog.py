"""Settings: clinician, clinic, device, database, overlay and thumbnails (QSettings), and the referral
rule, which is kept in the case store so the command line and printed reports apply the same one.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from desktop.services.i18n import LANGUAGE_NAMES, N_, _, format_percent
from desktop.services.store import ReferralRule
from desktop.settings import COLORMAPS, DEVICES, LANGUAGES, THUMB_SIZES, Settings
from desktop.shell.file_dialogs import save_file
from desktop.shell.role_gate import NEEDS_ADMIN

DEVICE_LABELS = {
    "auto": N_("Automatic (CUDA GPU if present)"),
    "cpu": "CPU",
    "cuda": N_("CUDA GPU"),
}


class SettingsDialog(QDialog):
    """``changes()`` after ``exec()``: the keys whose values differ from the saved ones."""

    def __init__(
        self,
        settings: Settings,
        rule: ReferralRule,
        rule_editable: bool,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Settings"))
        self.settings = settings
        lay = QVBoxLayout(self)
        lay.addWidget(self._general_box())
        lay.addWidget(self._display_box())
        lay.addWidget(self._referral_box(rule, rule_editable))
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self.resize(560, self.sizeHint().height())

    def _general_box(self) -> QGroupBox:
        s = self.settings
        box = QGroupBox(_("General"))
        form = QFormLayout(box)
        self.clinician = QLineEdit(s.clinician)
        self.clinician.setToolTip(_("Recorded with every label you give"))
        form.addRow(_("Clinician name"), self.clinician)
        self.clinic = QLineEdit(s.clinic, placeholderText=_("printed on every page of a report"))
        self.clinic.setToolTip(_("The clinic's name, printed on reports (optional)"))
        form.addRow(_("Clinic"), self.clinic)
        self.device = QComboBox()
        for d in DEVICES:
            self.device.addItem(_(DEVICE_LABELS[d]), d)
        self.device.setCurrentIndex(self.device.findData(s.device))
        form.addRow(_("Device"), self.device)
        self.language = QComboBox()
        self.language.addItem(_("System default"), "")
        for code in LANGUAGES:
            self.language.addItem(LANGUAGE_NAMES[code], code)  # each in its own words
        self.language.setCurrentIndex(max(0, self.language.findData(s.language)))
        self.language.setToolTip(_("The window is rebuilt in the new language at once"))
        form.addRow(_("Language"), self.language)
        row = QHBoxLayout()
        self.database = QLineEdit(s.database)
        self.database.setPlaceholderText(_("default: poxscreen.db in the user data folder"))
        self.database.setToolTip(_("A database file, or an SQLAlchemy URL (e.g. a clinic server)"))
        browse = QPushButton(_("Browse..."))
        browse.clicked.connect(self._browse)
        row.addWidget(self.database, 1)
        row.addWidget(browse)
        form.addRow(_("Database"), row)
        return box

    def _display_box(self) -> QGroupBox:
        s = self.settings
        box = QGroupBox(_("Display"))
        form = QFormLayout(box)
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.colormap.setCurrentText(s.colormap)
        self.colormap.setToolTip(_("Perceptually uniform colour maps only"))
        form.addRow(_("Overlay colour map"), self.colormap)
        row = QHBoxLayout()
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(s.opacity * 100))
        self.opacity_label = QLabel()
        self.opacity.valueChanged.connect(
            lambda v: self.opacity_label.setText(format_percent(v / 100))
        )
        self.opacity_label.setText(format_percent(self.opacity.value() / 100))
        self.opacity_label.setMinimumWidth(48)
        row.addWidget(self.opacity, 1)
        row.addWidget(self.opacity_label)
        form.addRow(_("Default overlay opacity"), row)
        self.thumb = QComboBox()
        for size in THUMB_SIZES:
            self.thumb.addItem(f"{size} px", size)
        self.thumb.setCurrentIndex(self.thumb.findData(s.thumb_size))
        form.addRow(_("Thumbnail size"), self.thumb)
        return box

    def _referral_box(self, rule: ReferralRule, editable: bool) -> QGroupBox:
        box = QGroupBox(_("Referral rule (kept in the case store, shared with reports)"))
        form = QFormLayout(box)
        self.min_conf = QDoubleSpinBox()
        self.mpox_above = QDoubleSpinBox()
        for spin, value in (
            (self.min_conf, rule.min_confidence),
            (self.mpox_above, rule.mpox_above),
        ):
            spin.setRange(0.0, 1.0)
            spin.setSingleStep(0.05)
            spin.setDecimals(2)
            spin.setValue(float(value))
            spin.setEnabled(editable)
        form.addRow(_("Refer when confidence is below"), self.min_conf)
        form.addRow(_("or the Mpox probability is above"), self.mpox_above)
        if not editable:
            box.setToolTip(_(NEEDS_ADMIN))  # a clinician on a shared store with roles
        self.rule_editable = editable
        self._rule = (float(rule.min_confidence), float(rule.mpox_above))
        return box

    def _browse(self) -> None:
        path = save_file(
            self,
            "database",
            _("Database file"),
            self.database.text(),
            _("PoxScreen database (*.db);;All files (*)"),
            confirm_overwrite=False,
        )
        if path:
            self.database.setText(path)

    def rule_values(self) -> tuple[float, float]:
        return round(self.min_conf.value(), 4), round(self.mpox_above.value(), 4)

    def changes(self) -> set[str]:
        """What the dialog would change (compare before ``apply``)."""
        s = self.settings
        out = set()
        if self.clinician.text().strip() != s.clinician:
            out.add("clinician")
        if self.clinic.text().strip() != s.clinic:
            out.add("clinic")
        if self.device.currentData() != s.device:
            out.add("device")
        if self.language.currentData() != s.language:
            out.add("language")
        if self.database.text().strip() != s.database:
            out.add("database")
        if self.colormap.currentText() != s.colormap:
            out.add("colormap")
        if abs(self.opacity.value() / 100 - s.opacity) > 1e-6:
            out.add("opacity")
        if self.thumb.currentData() != s.thumb_size:
            out.add("thumb_size")
        if self.rule_editable and self.rule_values() != self._rule:
            out.add("referral")
        return out

    def apply(self) -> set[str]:
        """Write the QSettings part; return what changed (the caller saves the referral rule)."""
        changed = self.changes()
        s = self.settings
        s.clinician = self.clinician.text()
        s.clinic = self.clinic.text()
        s.device = self.device.currentData()
        s.language = self.language.currentData()
        s.database = self.database.text()
        s.colormap = self.colormap.currentText()
        s.opacity = self.opacity.value() / 100
        s.thumb_size = int(self.thumb.currentData())
        return changed
