"""The visit view's engine work: the visits, one visit's photos with thumbnails, the visit
decision, the lab result, patient and visit by hand, and the visit report; off the GUI thread.

:class:`VisitsService` runs each call as a :class:`desktop.services.tasks.Task` and answers with
signals; it never touches a widget. The plain functions below are the engine calls themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage

from desktop.services.review import load_photo, photo_file, readable_error
from desktop.services.tasks import run_task
from engine.store import Store
from engine.store.visits import VisitPhoto, VisitRow
from engine.visits import LAB_RESULTS, VisitIdError, check_identifier
from engine.vocabulary import long_name, short_name

__all__ = [
    "LAB_RESULTS",
    "CardData",
    "VisitDetail",
    "VisitRow",
    "VisitsService",
    "check_ids",
]

#: Longest side of a photo in the visit view.
CARD_SIDE = 240


@dataclass(frozen=True)
class CardData:
    """One photo of a visit as the view shows it."""

    sha256: str
    name: str
    class_text: str  # "Mpox 87%", or the clinician's label
    referred: bool
    label: str | None
    image: QImage | None  # None: the file is gone


@dataclass(frozen=True)
class VisitDetail:
    """A visit's row and its photos, the most suspicious first."""

    row: VisitRow
    cards: list[CardData]
    classes: list[str]  # the decision buttons' classes, in model order


def check_ids(patient: str, visit: str) -> str | None:
    """None when both identifiers are acceptable, else the reason (for the form's message)."""
    try:
        check_identifier(patient, "patient")
        check_identifier(visit, "visit")
    except VisitIdError as exc:
        return str(exc)
    return None


def _card(store: Store, photo: VisitPhoto) -> CardData:
    item = photo.item
    try:
        image: QImage | None = load_photo(photo_file(store, item), CARD_SIDE)
    except Exception:  # a missing or unreadable file: the card says so instead of a photo
        image = None
    name = Path(item.path).name if item.path else item.sha256[:12]
    return CardData(
        sha256=item.sha256,
        name=name,
        class_text=f"{short_name(item.top_class)} {item.confidence:.0%}",
        referred=photo.referred,
        label=item.current_label,
        image=image,
    )


def load_visit(store: Store, patient: str, visit: str) -> VisitDetail:
    """The visit's row and its photos with thumbnails (decoded here, on the worker)."""
    row = store.visits.visit(patient, visit)
    cards = [_card(store, p) for p in store.visits.photos_of(patient, visit)]
    return VisitDetail(row, cards, _classes(store))


def _classes(store: Store) -> list[str]:
    classes = store.label_classes()
    if classes is None:  # nothing registered yet: the shipped model's classes
        from engine.modelmeta import DEFAULT_CLASSES

        classes = list(DEFAULT_CLASSES)
    return list(classes)


def lab_summary(store: Store, rows: Sequence[VisitRow]) -> str:
    """The model and the clinicians against the lab, in words (over visits with a result)."""
    from engine.lab_compare import compare_with_lab

    n = sum(r.lab_result in ("positive", "negative") for r in rows)
    if not n:
        return "No visit has a lab result yet."
    lines = [f"Against the lab ({n} visit{'s' if n != 1 else ''} with a result):"]
    for c in compare_with_lab(rows, store.referral_rule().mpox_class):
        lines.append(
            f"{c.who}: sensitivity {c.sensitivity.text()}; specificity {c.specificity.text()}"
        )
    return "\n".join(lines)


def load_rows(store: Store, run_id: int | None) -> tuple[list[VisitRow], str]:
    """The visits and the comparison with the lab."""
    rows = store.visits.visit_rows(run_id)
    return rows, lab_summary(store, rows)


def write_visit_report(
    store: Store, patient: str, visit: str, out: Path, clinician: str, clinic: str | None
) -> Any:
    """The visit's printable report (PDF), as ``poxscreen report --visit`` makes it."""
    from engine.report.visit import write_visit_report as write

    return write(store, out, patient, visit, clinician=clinician, clinic=clinic)


class VisitsService(QObject):
    """Visits read and written on the pool; answers arrive as signals on the GUI thread."""

    rows = Signal(list)  # list[VisitRow]
    comparison = Signal(str)  # the model and the clinicians against the lab, in words
    detail = Signal(object)  # VisitDetail
    saved = Signal(str)  # what was saved, in words
    failed = Signal(str)  # what went wrong, in words

    def __init__(self, store: Store, who: Callable[[], str], pool: QThreadPool | None = None):
        super().__init__()
        self.store = store
        self.who = who
        self.pool = pool or QThreadPool.globalInstance()

    def _run(self, fn: Callable[[], Any], done: Callable[[Any], None]) -> None:
        run_task(self.pool, fn, done, on_error=lambda exc: self.failed.emit(readable_error(exc)))

    def load_rows(self, run_id: int | None = None) -> None:
        store = self.store

        def done(result: tuple[list[VisitRow], str]) -> None:
            self.rows.emit(result[0])
            self.comparison.emit(result[1])

        self._run(lambda: load_rows(store, run_id), done)

    def load_visit(self, patient: str, visit: str) -> None:
        store = self.store
        self._run(lambda: load_visit(store, patient, visit), self.detail.emit)

    def decide(self, patient: str, visit: str, decision: str | None) -> None:
        store, who = self.store, self.who()

        def write() -> str:
            store.visits.decide(patient, visit, decision, who=who, classes=store.label_classes())
            return f"{patient}/{visit}: visit decision {long_name(decision or '') or 'cleared'}"

        self._run(write, self.saved.emit)

    def set_lab(self, patient: str, visit: str, result: str, on: str, test: str) -> None:
        store, who = self.store, self.who()

        def write() -> str:
            store.visits.set_lab(patient, visit, result, who=who, on=on or None, test=test)
            return f"{patient}/{visit}: lab result {result}"

        self._run(write, self.saved.emit)

    def assign(self, shas: Sequence[str], patient: str | None, visit: str | None) -> None:
        store = self.store

        def write() -> str:
            n = store.visits.assign(list(shas), patient, visit)
            where = f"{patient}/{visit}" if patient else "no visit"
            return f"{n} photo{'s' if n != 1 else ''} now in {where}"

        self._run(write, self.saved.emit)

    def report(self, patient: str, visit: str, out: Path, clinic: str | None) -> None:
        store, who = self.store, self.who()
        self._run(
            lambda: write_visit_report(store, patient, visit, out, who, clinic),
            lambda _summary: self.saved.emit(f"Visit report written to {out}"),
        )
