"""The visit view's engine work: the visits, one visit's photos with thumbnails, the visit
decision, the lab result, patient and visit by hand, and the visit report; off the GUI thread.

:class:`VisitsService` runs each call as a :class:`desktop.services.tasks.Task` and answers with
signals; it never touches a widget. The plain functions below are the engine calls themselves.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtGui import QImage

from desktop.services.review import load_photo, photo_file, readable_error
from desktop.services.tasks import run_task
from engine.i18n import N_, _, format_number, format_percent, ngettext
from engine.store import Store
from engine.store.visits import VisitPhoto, VisitRow
from engine.visits import LAB_RESULTS, MAX_ID_LENGTH, VisitIdError, check_identifier
from engine.vocabulary import long_name, short_name

__all__ = [
    "LAB_RESULTS",
    "CardData",
    "VisitDetail",
    "VisitRow",
    "VisitsService",
    "check_ids",
    "lab_word",
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
    for value, what in ((patient, _("patient")), (visit, _("visit"))):
        try:
            check_identifier(value, what)
        except VisitIdError:
            return id_problem(value, what)
    return None


def id_problem(text: str, what: str) -> str:
    """Why engine.visits.check_identifier refused ``text``, in the user's language."""
    value = (text or "").strip()
    if not value:
        return _("{what} is empty").format(what=what)
    if any(sep in value for sep in ("/", "\\")) or os.sep in value:
        return _("{what} {value!r} contains a path separator").format(what=what, value=value)
    if len(value) > MAX_ID_LENGTH:
        return _("{what} {value!r}... has {n} characters (at most {max})").format(
            what=what, value=value[:20], n=len(value), max=MAX_ID_LENGTH
        )
    return _("{what} {value!r} contains a control character").format(what=what, value=value)


#: A lab result (the store's word) in words.
LAB_WORDS = {"positive": N_("positive"), "negative": N_("negative"), "pending": N_("pending")}


def lab_word(result: str | None) -> str:
    """The lab result in the user's language ("-" when none)."""
    if not result:
        return "-"
    return _(LAB_WORDS[result]) if result in LAB_WORDS else result


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
        class_text=f"{short_name(item.top_class)} {format_percent(item.confidence)}",
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
        return _("No visit has a lab result yet.")
    lines = [
        ngettext(
            "Against the lab ({n} visit with a result):",
            "Against the lab ({n} visits with a result):",
            n,
        ).format(n=n)
    ]
    for c in compare_with_lab(rows, store.referral_rule().mpox_class):
        lines.append(
            _("{who}: sensitivity {sensitivity}; specificity {specificity}").format(
                who=_(CALLERS[c.who]) if c.who in CALLERS else c.who,
                sensitivity=rate_text(c.sensitivity),
                specificity=rate_text(c.specificity),
            )
        )
    return "\n".join(lines)


#: Who is compared with the lab (engine.lab_compare's names), in words.
CALLERS = {"model": N_("model"), "clinicians": N_("clinicians")}


def rate_text(rate: Any) -> str:
    """ "0.83 (5/6, 95% CI 0.44-0.97)" in the user's language, or "n/a (no visits)"."""
    if not rate.n or rate.interval is None:
        return _("n/a (no visits)")
    low, high = rate.interval
    return _("{value} ({hits}/{n}, {ci} CI {low}-{high})").format(
        value=format_number(rate.hits / rate.n, 2),
        hits=rate.hits,
        n=rate.n,
        ci=format_percent(0.95),
        low=format_number(low, 2),
        high=format_number(high, 2),
    )


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
            if decision:
                return _("{patient}/{visit}: visit decision {decision}").format(
                    patient=patient, visit=visit, decision=long_name(decision)
                )
            return _("{patient}/{visit}: visit decision cleared").format(
                patient=patient, visit=visit
            )

        self._run(write, self.saved.emit)

    def set_lab(self, patient: str, visit: str, result: str, on: str, test: str) -> None:
        store, who = self.store, self.who()

        def write() -> str:
            store.visits.set_lab(patient, visit, result, who=who, on=on or None, test=test)
            return _("{patient}/{visit}: lab result {result}").format(
                patient=patient, visit=visit, result=lab_word(result)
            )

        self._run(write, self.saved.emit)

    def assign(self, shas: Sequence[str], patient: str | None, visit: str | None) -> None:
        store = self.store

        def write() -> str:
            n = store.visits.assign(list(shas), patient, visit)
            if not patient:
                return ngettext(
                    "{n} photo now in no visit", "{n} photos now in no visit", n
                ).format(n=n)
            return ngettext("{n} photo now in {where}", "{n} photos now in {where}", n).format(
                n=n, where=f"{patient}/{visit}"
            )

        self._run(write, self.saved.emit)

    def report(self, patient: str, visit: str, out: Path, clinic: str | None) -> None:
        store, who = self.store, self.who()
        self._run(
            lambda: write_visit_report(store, patient, visit, out, who, clinic),
            lambda _summary: self.saved.emit(_("Visit report written to {path}").format(path=out)),
        )
