"""The promotion decision in plain words: what the trainer advises, why, what changed for the
clinic's photos ("caught 15 of 16 Mpox photos instead of 12"), and the figures behind it
(MCC, calibration, log loss...) under a collapsed "Details" toggle.

Reads the trainer's ``promotion`` dict (report.json, or the ``done`` progress event):
``activate`` and ``reason`` always; ``plain`` (lines), ``details`` (figure -> {"candidate",
"active"}) and ``method`` ("cross-fit" or "gate") when the trainer records them.
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLabel,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop.services.i18n import N_, _, format_number

FIGURES = {  # figure -> (label, higher is better)
    "mcc": (N_("MCC (agreement beyond chance)"), True),
    "macro_f1": (N_("Macro-F1"), True),
    "accuracy": (N_("Accuracy"), True),
    "balanced_accuracy": (N_("Balanced accuracy"), True),
    "ece": (N_("Calibration error (ECE)"), False),
    "nll": (N_("Log loss (NLL)"), False),
}
METHODS = {
    "cross-fit": N_(
        "judged by cross-fitting: every labelled photo checked by a model that did not learn "
        "from it"
    ),
    "gate": N_("judged on check photos held out from training"),
}


def short_numbers(text: str) -> str:
    """0.9518242122719733 -> 0.9518 in the gate's reason."""
    return re.sub(r"\d+\.\d{5,}", lambda m: f"{float(m.group()):.4f}", str(text))


def signed(value: float, digits: int = 3) -> str:
    """A change with its sign, in the language's numbers (``+0,012`` in French)."""
    return ("+" if value >= 0 else "") + format_number(value, digits)


def _num(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return format_number(value, 3)
    return "-"


class DecisionView(QWidget):
    """Headline, reason and plain-words lines; the figures behind a "Details" toggle."""

    def __init__(self, parent: QWidget | None = None, *, show_reason: bool = True) -> None:
        super().__init__(parent)
        self.show_reason = show_reason
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.headline = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.plain = QLabel(wordWrap=True, textFormat=Qt.TextFormat.RichText)
        self.toggle = QToolButton(text=_("Details"), checkable=True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.toggle.toggled.connect(self._toggled)
        self.details = QTableWidget(0, 4)
        self.details.setHorizontalHeaderLabels(
            [_("Figure"), _("Model in use"), _("New model"), _("Change")]
        )
        self.details.verticalHeader().setVisible(False)
        self.details.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.details.hide()
        for w in (self.headline, self.plain, self.toggle, self.details):
            layout.addWidget(w)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.show_decision(None)

    def show_decision(self, decision: dict[str, Any] | None) -> None:
        """Show the trainer's decision (None or empty: none recorded)."""
        decision = dict(decision or {})
        promote = bool(decision.get("activate"))
        verdict = (
            _("Promote: the new model does better on the clinic's photos")
            if promote
            else _("Keep the model in use: the new model does not do better")
        )
        if not decision:
            verdict = _("No promotion decision is recorded for this run")
        method = (
            _(METHODS[str(decision.get("method"))]) if decision.get("method") in METHODS else ""
        )
        text = f"<b>{verdict}</b>" + (f" <i>({method})</i>" if method else "")
        if self.show_reason and decision.get("reason"):
            text += f"<br/>{html.escape(short_numbers(decision['reason']))}"
        self.headline.setText(text)
        colour = "#DFF2E9" if promote else "#FBE3D6"
        self.headline.setStyleSheet(f"background: {colour}; padding: 6px;")
        lines = [str(x) for x in decision.get("plain") or []]
        self.plain.setText(
            "".join(f"\u2022 {html.escape(x)}<br/>" for x in lines).removesuffix("<br/>")
        )
        self.plain.setVisible(bool(lines))
        self._fill_details(decision.get("details") or {})

    def _fill_details(self, details: dict[str, Any]) -> None:
        rows = [(k, v) for k, v in details.items() if isinstance(v, dict)]
        self.details.setRowCount(len(rows))
        for row, (key, pair) in enumerate(rows):
            label, higher = FIGURES.get(key, (key, None))
            label = _(label) if key in FIGURES else label
            new, old = pair.get("candidate"), pair.get("active")
            change = ""
            if isinstance(new, (int, float)) and isinstance(old, (int, float)):
                better = (new > old) if higher else (new < old)
                change = signed(new - old) + (
                    ""
                    if higher is None or new == old
                    else " " + (_("better") if better else _("worse"))
                )
            for col, value in enumerate([label, _num(old), _num(new), change]):
                self.details.setItem(row, col, QTableWidgetItem(value))
        self.details.resizeColumnsToContents()
        header = self.details.horizontalHeader().sizeHint().height()
        self.details.resizeRowsToContents()
        rows_height = sum(self.details.rowHeight(r) for r in range(len(rows)))
        self.details.setFixedHeight(header + rows_height + 2 * self.details.frameWidth() + 2)
        self.toggle.setVisible(bool(rows))
        self.toggle.setChecked(False)

    def _toggled(self, shown: bool) -> None:
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)
        self.details.setVisible(shown)
