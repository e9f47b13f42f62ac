"""The columns of the screening CSV and of the cases export, defined once.

Both files describe the same photos, so a spreadsheet built on one reads the other: the cases
export is the screening CSV's columns plus the clinician's label (:data:`LABEL_COLUMNS`). Each
column is a name and how its text is made from a :class:`CsvRecord`; engine.screening and
engine.cases only say how a prediction or a case becomes a record.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from engine.i18n import N_, _
from engine.paths import display_path
from engine.vocabulary import long_name

__all__ = ["LABEL_COLUMNS", "CsvRecord", "header", "people_header", "row"]


@dataclass(frozen=True)
class CsvRecord:
    """One photo's values before formatting; ``None`` writes an empty cell."""

    path: str | Path
    sha256: str | None
    top_class: str | None
    confidence: float | None
    probabilities: Mapping[str, float]
    model_version: str
    model_trained: bool | None
    error: str | None
    source: str
    referral: bool | None
    out_of_scope: bool | None
    scope_score: float | None
    quality_issues: str | None
    label: str | None = None
    label_who: str | None = None
    label_at: datetime | None = None
    label_note: str | None = None
    patient: str | None = None
    visit: str | None = None


Column = tuple[str, Callable[[CsvRecord], str]]


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _flag(value: bool | None) -> str:
    return "" if value is None else str(value).lower()


_BEFORE_PROBABILITIES: tuple[Column, ...] = (
    # undecodable bytes as U+FFFD; the sha256 column identifies the file
    ("path", lambda r: display_path(r.path)),
    ("sha256", lambda r: r.sha256 or ""),
    ("predicted_class", lambda r: r.top_class or ""),
    ("confidence", lambda r: _number(r.confidence)),
)
_AFTER_PROBABILITIES: tuple[Column, ...] = (
    ("model_version", lambda r: r.model_version),
    ("model_trained", lambda r: _flag(r.model_trained)),
    ("error", lambda r: r.error or ""),
    ("source", lambda r: r.source),
    ("referral", lambda r: _flag(r.referral)),
    ("out_of_scope", lambda r: "" if r.out_of_scope is None else str(int(r.out_of_scope))),
    ("scope_score", lambda r: _number(r.scope_score)),
    ("quality_issues", lambda r: r.quality_issues or ""),
    ("patient", lambda r: r.patient or ""),
    ("visit", lambda r: r.visit or ""),
)
_LABEL: tuple[Column, ...] = (
    ("label", lambda r: r.label or ""),
    ("label_who", lambda r: r.label_who or ""),
    ("label_at", lambda r: r.label_at.isoformat(timespec="seconds") if r.label_at else ""),
    ("label_note", lambda r: r.label_note or ""),
)

#: What the cases export adds to the screening CSV's columns.
LABEL_COLUMNS: list[str] = [name for name, _ in _LABEL]


def header(classes: Sequence[str], *, labels: bool = False) -> list[str]:
    """The column names: one ``prob_<class>`` per class; ``labels`` adds the clinician's."""
    names = [name for name, _ in _BEFORE_PROBABILITIES]
    names += [f"prob_{c}" for c in classes]
    names += [name for name, _ in _AFTER_PROBABILITIES]
    return names + (LABEL_COLUMNS if labels else [])


#: Column titles for people, translated when a file for people is written (the cases export in
#: a language other than English). The screening CSV keeps the machine names: scripts read it.
_TITLES: dict[str, str] = {
    "path": N_("File"),
    "predicted_class": N_("Predicted class"),
    "confidence": N_("Confidence"),
    "model_version": N_("Model version"),
    "model_trained": N_("Model trained"),
    "error": N_("Error"),
    "source": N_("Source"),
    "referral": N_("Referral"),
    "out_of_scope": N_("Not a skin photo?"),
    "scope_score": N_("Skin photo score"),
    "quality_issues": N_("Quality issues"),
    "patient": N_("Patient"),
    "visit": N_("Visit"),
    "label": N_("Clinician label"),
    "label_who": N_("Labelled by"),
    "label_at": N_("Labelled at"),
    "label_note": N_("Note"),
}


def people_header(classes: Sequence[str], *, labels: bool = False) -> list[str]:
    """:func:`header` as people read it in the current language: one title per column, in the
    same order (``prob_Measles`` -> ``Probabilité Rougeole`` in French)."""
    probability = {f"prob_{c}": c for c in classes}
    out = []
    for name in header(classes, labels=labels):
        if name in probability:
            out.append(
                _("Probability {class_name}").format(class_name=long_name(probability[name]))
            )
        else:
            out.append(_(_TITLES[name]) if name in _TITLES else name)
    return out


def row(record: CsvRecord, classes: Sequence[str], *, labels: bool = False) -> list[str]:
    """One record's cells, in :func:`header`'s order."""
    cells = [get(record) for _, get in _BEFORE_PROBABILITIES]
    cells += [_number(record.probabilities.get(c)) for c in classes]
    cells += [get(record) for _, get in _AFTER_PROBABILITIES]
    return cells + ([get(record) for _, get in _LABEL] if labels else [])
