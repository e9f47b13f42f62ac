"""The active model and a newly trained one side by side on the same validation images.

Overall and per-class metrics, both confusion matrices, the reliability diagram, and the
promotion gate's decision with its reason. "Promote" goes through the gate (a forced promotion
asks first, Cancel being the default, and is recorded as forced); "Discard" removes the new
model from the registry's list and deletes its copy in the store's model folder. The checks
each model carries (out-of-scope guard, calibration, ONNX graph) are listed, and a check the
new model lacks is said in plain words.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.services import model_checks
from desktop.services import versions as models
from desktop.services.active_model import ActiveModel
from desktop.services.i18n import N_, _, format_number
from desktop.services.tasks import run_in_pool
from desktop.services.vocabulary import long_name, short_name
from desktop.shell.confirm import ask_risky
from desktop.shell.role_gate import admin_tip
from desktop.training.decision_view import METHODS, DecisionView, signed
from desktop.training.decision_view import short_numbers as _short_numbers

OVERALL = [  # key, label, higher is better
    ("accuracy", N_("Accuracy"), True),
    ("macro_f1", N_("Macro-F1"), True),
    ("weighted_f1", N_("Weighted F1"), True),
    ("balanced_accuracy", N_("Balanced accuracy"), True),
    ("mcc", N_("MCC"), True),
    ("ece", N_("Calibration error (ECE)"), False),
    ("nll", N_("Log loss (NLL)"), False),
    ("n", N_("Images compared"), None),
]
_SPLIT_NAMES = {
    "gate": N_("held-out gate images"),
    "val": N_("validation images"),
    "cross-fit": N_("labelled photos (each judged by a model that did not see it)"),
}
#: How the run ended (the trainer's status), in words.
_STATUS_WORDS = {
    "finished": N_("finished"),
    "early_stopped": N_("stopped early"),
    "stopped": N_("stopped"),
}
BETTER = QColor("#DFF2E9")
WORSE = QColor("#FBE3D6")


def _cell(text: str, align_right: bool = True) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _num(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    return format_number(value, digits) if isinstance(value, float) else str(value)


def _split_name(split: str) -> str:
    """The images both models were scored on, in words."""
    return _(_SPLIT_NAMES[split]) if split in _SPLIT_NAMES else split


def _fit(table: QTableWidget) -> None:
    """Size a small table to its contents (no empty area below or beside it)."""
    table.resizeColumnsToContents()
    table.resizeRowsToContents()
    table.setSizeAdjustPolicy(QAbstractScrollArea.SizeAdjustPolicy.AdjustToContents)
    table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    table.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)


def _table(rows: int, headers: list[str]) -> QTableWidget:
    table = QTableWidget(rows, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().setVisible(False)
    return table


class ConfusionTable(QTableWidget):
    """Rows: true class; columns: predicted; cells shaded by their share of the row."""

    def __init__(self, classes: list[str], matrix: list[list[int]] | None) -> None:
        super().__init__(len(classes), len(classes))
        self.setHorizontalHeaderLabels([_short_class(c) for c in classes])
        for i, name in enumerate(classes):
            self.horizontalHeaderItem(i).setToolTip(
                _("predicted {name}").format(name=long_name(name))
            )
        self.setVerticalHeaderLabels([long_name(c) for c in classes])
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setToolTip(_("rows: clinician's / true class; columns: the model's prediction"))
        for r, row in enumerate(matrix or []):
            total = max(sum(row), 1)
            for c, value in enumerate(row):
                item = _cell(str(value))
                shade = int(255 - 150 * value / total)
                diag = r == c
                item.setBackground(QColor(shade, 255, shade) if diag else QColor(255, shade, shade))
                self.setItem(r, c, item)
        _fit(self)
        width = self.verticalHeader().sizeHint().width() + 2 * self.frameWidth()
        width += sum(self.columnWidth(i) for i in range(self.columnCount()))
        height = self.horizontalHeader().sizeHint().height() + 2 * self.frameWidth()
        height += sum(self.rowHeight(i) for i in range(self.rowCount()))
        self.setMinimumSize(width, height)  # never cut off a column


class CompareView(QDialog):
    """Comparison of one finished run's model with the model in use; Promote or Discard."""

    decided = Signal(str)  # "promoted" | "discarded"

    def __init__(
        self, active: ActiveModel, run_dir: Path, parent: QWidget | None = None, admin: bool = True
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(_("Compare models"))
        self.active = active
        self.admin = admin  # False: a clinician on a shared store (the server refuses both)
        self.run_dir = Path(run_dir)
        self.comparison = models.load_comparison(self.run_dir)
        self.outcome: str | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(self._header())
        self.decision = DecisionView(self, show_reason=False)  # the plain words, the details
        self.decision.show_decision(self.comparison.decision)
        self.decision.headline.hide()  # the header above says the verdict and the reason
        layout.addWidget(self.decision)
        self.checks = QLabel(_("Reading which checks each model carries..."), wordWrap=True)
        self.checks.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.checks)
        body = QHBoxLayout()
        body.addWidget(self._overall(), stretch=1)
        body.addWidget(self._per_class(), stretch=1)
        layout.addLayout(body)
        layout.addWidget(self._matrices())
        layout.addLayout(self._buttons())
        self._enable_decisions(True)
        self.resize(1060, 780)
        store, new_model = active.store, self.comparison.new_model
        run_in_pool(
            lambda: model_checks.comparison_checks(store, new_model),
            self._show_checks,
            lambda exc: self.checks.setText(
                _("The models' checks could not be read: {error}").format(error=exc)
            ),
        )

    # --- layout -----------------------------------------------------------------------------

    def _header(self) -> QWidget:
        cmp = self.comparison
        gate = cmp.decision
        verdict = _("promote the new model") if cmp.gate_allows else _("keep the active model")
        text = _(
            "<b>Active:</b> {active} &nbsp;&nbsp; <b>New:</b> {new} ({status})<br/>"
            "Both scored on the same {n} {split}.<br/><b>Gate:</b> {verdict} \u2014 {reason}"
        ).format(
            active=cmp.active_version or _("(none)"),
            new=cmp.new_version,
            status=_(_STATUS_WORDS[cmp.status])
            if cmp.status in _STATUS_WORDS
            else cmp.status.replace("_", " "),
            n=cmp.new_val.get("n", "?"),
            split=_split_name(cmp.split),
            verdict=verdict,
            reason=_short_numbers(gate.get("reason") or _("no decision recorded")),
        )
        if gate.get("method") in METHODS:
            text += f" <i>({_(METHODS[gate['method']])})</i>"
        self.gate_label = QLabel(text, wordWrap=True)
        self.gate_label.setTextFormat(Qt.TextFormat.RichText)
        colour = "#DFF2E9" if cmp.gate_allows else "#FBE3D6"
        self.gate_label.setStyleSheet(f"background: {colour}; padding: 6px;")
        return self.gate_label

    def _show_checks(self, found: dict[str, Any]) -> None:
        """Each model's checks, and in red what the new model lacks that the one in use has."""
        if not shiboken6.isValid(self.checks):  # the dialog closed before the answer came
            return
        text = _(
            "<b>Checks, model in use:</b> {active}<br/><b>Checks, new model:</b> {new}"
        ).format(
            active="; ".join(model_checks.check_lines(found["active"])),
            new="; ".join(model_checks.check_lines(found["new"])),
        )
        for line in found["missing"]:
            note = _("<b>Note:</b> {line}.").format(line=line)
            text += f"<br/><span style='color:#B00020'>{note}</span>"
        self.checks.setText(text)
        self.layout().activate()  # room for the extra lines now, not at the next event

    def _overall(self) -> QGroupBox:
        box = QGroupBox(_("Overall ({split})").format(split=_split_name(self.comparison.split)))
        self.overall = _table(len(OVERALL), [_("Metric"), _("Active"), _("New"), _("Change")])
        active = self.comparison.active_val or {}
        new = self.comparison.new_val
        for row, (key, label, higher) in enumerate(OVERALL):
            a, b = active.get(key), new.get(key)
            self.overall.setItem(row, 0, _cell(_(label), align_right=False))
            self.overall.setItem(row, 1, _cell(_num(a)))
            self.overall.setItem(row, 2, _cell(_num(b)))
            if isinstance(a, float) and isinstance(b, float) and higher is not None:
                a, b = round(a, 3), round(b, 3)  # colour only changes that show
                change = _cell(signed(b - a))
                improved = (b > a) if higher else (b < a)
                if b != a:
                    change.setBackground(BETTER if improved else WORSE)
                self.overall.setItem(row, 3, change)
        _fit(self.overall)
        col = QVBoxLayout(box)
        col.addWidget(self.overall)
        col.addStretch(1)
        return box

    def _per_class(self) -> QGroupBox:
        box = QGroupBox(_("Per class: recall / precision (active \u2192 new)"))
        classes = self.comparison.classes
        self.per_class = _table(
            len(classes), [_("Class"), _("Recall"), _("Precision"), _("F1"), _("n")]
        )
        active = (self.comparison.active_val or {}).get("per_class", {})
        new = self.comparison.new_val.get("per_class", {})
        for row, name in enumerate(classes):
            a, b = active.get(name, {}), new.get(name, {})
            self.per_class.setItem(row, 0, _cell(long_name(name), align_right=False))
            for col, key in enumerate(("recall", "precision", "f1"), start=1):
                item = _cell(f"{_num(a.get(key), 2)} \u2192 {_num(b.get(key), 2)}")
                if isinstance(a.get(key), float) and isinstance(b.get(key), float):
                    old_v, new_v = round(a[key], 2), round(b[key], 2)
                    if new_v != old_v:
                        item.setBackground(BETTER if new_v > old_v else WORSE)
                self.per_class.setItem(row, col, item)
            self.per_class.setItem(row, 4, _cell(_num(b.get("support"))))
        _fit(self.per_class)
        col = QVBoxLayout(box)
        col.addWidget(self.per_class)
        col.addStretch(1)
        return box

    def _matrices(self) -> QGroupBox:
        box = QGroupBox(
            _("Confusion matrices and calibration ({split})").format(
                split=_split_name(self.comparison.split)
            )
        )
        grid = QGridLayout(box)
        classes = self.comparison.classes
        active_cm = (self.comparison.active_val or {}).get("confusion_matrix")
        grid.addWidget(QLabel("<b>" + _("Active model") + "</b>"), 0, 0)
        grid.addWidget(QLabel("<b>" + _("New model") + "</b>"), 0, 1)
        grid.addWidget(QLabel("<b>" + _("New model: reliability") + "</b>"), 0, 2)
        self.active_matrix = ConfusionTable(classes, active_cm)
        self.new_matrix = ConfusionTable(classes, self.comparison.new_val.get("confusion_matrix"))
        grid.addWidget(self.active_matrix, 1, 0)
        grid.addWidget(self.new_matrix, 1, 1)
        self.reliability = QLabel()
        self.reliability.setAlignment(Qt.AlignmentFlag.AlignCenter)
        figure = self.comparison.figures.get("reliability")
        if figure is not None and figure.is_file():
            pixmap = QPixmap(str(figure))
            self.reliability.setPixmap(
                pixmap.scaled(330, 270, Qt.AspectRatioMode.KeepAspectRatio,
                              Qt.TransformationMode.SmoothTransformation)
            )  # fmt: skip
        else:
            self.reliability.setText(_("no reliability diagram in this run's report"))
        grid.addWidget(self.reliability, 1, 2, 2, 1)
        grid.setRowStretch(2, 1)
        grid.setColumnStretch(2, 1)
        ece_a = (self.comparison.active_val or {}).get("ece")
        ece_b = self.comparison.new_val.get("ece")
        grid.addWidget(
            QLabel(
                _("ECE active {active} \u2192 new {new} (lower: more honest)").format(
                    active=_num(ece_a), new=_num(ece_b)
                )
            ),
            3, 2,
        )  # fmt: skip
        return box

    def _buttons(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.promote_button = QPushButton(_("Promote (make it the active model)"))
        self.discard_button = QPushButton(_("Discard the new model"))
        close = QPushButton(_("Decide later"))
        self.promote_button.clicked.connect(self.promote)
        self.discard_button.clicked.connect(self.discard)
        close.clicked.connect(self.close)
        self.status = QLabel()
        row.addWidget(self.promote_button)
        row.addWidget(self.discard_button)
        row.addWidget(self.status, stretch=1)
        row.addWidget(close)
        return row

    # --- decisions ----------------------------------------------------------------------------

    def confirm_force(self) -> bool:
        """The gate said no: ask before promoting anyway; Cancel is the default answer."""
        reason = _short_numbers(self.comparison.decision.get("reason", ""))
        return ask_risky(
            self,
            _("Promote anyway?"),
            _(
                "The gate advises against this model: {reason}.\n\nPromote it anyway? The "
                "promotion is recorded as forced, and you can roll back in the models view."
            ).format(reason=reason),
            _("Promote anyway"),
        )

    def promote(self) -> None:
        force = False
        if not self.comparison.gate_allows:
            if not self.confirm_force():
                return
            force = True
        self._busy(_("Promoting..."))
        self.active.promote(
            self.comparison, force=force, who=_who(),
            on_done=lambda info: self._done(
                "promoted", _("Active model: {version}").format(version=info.version)
            ),
            on_error=self._failed,
        )  # fmt: skip

    def discard(self) -> None:
        self._busy(_("Discarding..."))
        self.active.discard(
            self.comparison, _who(),
            on_done=lambda _r: self._done(
                "discarded", _("Discarded: the active model stays in use.")
            ),
            on_error=self._failed,
        )  # fmt: skip

    def _enable_decisions(self, enabled: bool) -> None:
        """Promote and Discard, for an admin only: a clinician is told why they are off."""
        for button in (self.promote_button, self.discard_button):
            button.setEnabled(enabled and self.admin)
            button.setToolTip(admin_tip("", self.admin).strip())

    def _busy(self, text: str) -> None:
        self.status.setText(text)
        self._enable_decisions(False)

    def _done(self, outcome: str, text: str) -> None:
        self.outcome = outcome
        if outcome == "promoted":
            (self.run_dir / "DECIDED").write_text("promoted\n")
        self.status.setText(text)
        self.decided.emit(outcome)

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(_("Not done: {error}").format(error=exc))
        self._enable_decisions(True)


def _short_class(name: str) -> str:
    """Column headers narrow enough for two matrices side by side (full name in the tooltip)."""
    name = short_name(name)
    return name if len(name) <= 7 else f"{name[:5]}."


def _who() -> str:
    try:
        return os.environ.get("POXSCREEN_USER") or getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"
