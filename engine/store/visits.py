"""Patients and visits in the case store (``store.visits``): which photos belong to which visit,
the clinician's visit decision, the lab (PCR) result, and the comparison with the lab.

A visit's photos are the images carrying its two identifiers (``images.patient``/``visit``); the
``visits`` row holds what is decided about the visit as a whole, apart from the per-photo labels.
A visit is referred when any of its photos is (the store's referral rule, or "check photo").
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from engine.i18n import gettext as _
from engine.store import audit, queries, settings
from engine.store.database import Database
from engine.store.dto import ReviewItem
from engine.store.errors import NotFoundError, StoreError
from engine.store.photos import Photos, find_image
from engine.store.queries import ReviewFilter
from engine.store.tables import REFER, Image, Prediction, Visit, utcnow
from engine.visits import LAB_RESULTS, Manifest, VisitIdError, check_identifier


@dataclass(frozen=True)
class VisitRow:
    """One visit: its photos (screened by the scope's model), how many are referred or called
    Mpox, the clinician's visit decision and the lab result."""

    patient: str
    visit: str
    photos: int
    referred_photos: int
    mpox_photos: int
    decision: str | None = None
    decided_by: str | None = None
    lab_result: str | None = None
    lab_date: str | None = None
    lab_test: str | None = None

    @property
    def referred(self) -> bool:
        """The visit is referred when any of its photos is."""
        return self.referred_photos > 0

    @property
    def model_mpox(self) -> bool:
        """The model's visit-level call: Mpox when any photo's top class is Mpox."""
        return self.mpox_photos > 0

    @property
    def ref(self) -> str:
        return f"{self.patient}/{self.visit}"


@dataclass(frozen=True)
class VisitPhoto:
    """A photo of a visit with its referral state."""

    item: ReviewItem
    referred: bool
    mpox: float


@dataclass(frozen=True)
class ManifestOutcome:
    """What a manifest import did: photos assigned, and rows left out (with the reason)."""

    assigned: int
    problems: list[str]


def _ids(patient: str, visit: str) -> tuple[str, str]:
    try:
        return check_identifier(patient, "patient"), check_identifier(visit, "visit")
    except VisitIdError as exc:
        raise StoreError(str(exc)) from exc


def _visit_row(s: Session, patient: str, visit: str) -> Visit:
    """The visit's row, made when first needed."""
    row = s.scalar(select(Visit).where(Visit.patient == patient, Visit.visit == visit))
    if row is None:
        row = Visit(patient=patient, visit=visit)
        s.add(row)
    return row


class Visits:
    """Visit identifiers, decisions and lab results (``store.visits``)."""

    def __init__(self, db: Database, photos: Photos) -> None:
        self.db = db
        self.photos = photos

    def assign(
        self, refs: Sequence[str | os.PathLike[str]], patient: str | None, visit: str | None
    ) -> int:
        """Give photos (paths or hashes) a patient and visit, both or neither (None clears);
        returns how many photos changed."""
        ids = (
            (None, None) if patient is None and visit is None else _ids(patient or "", visit or "")
        )
        with self.db.write() as s:
            images = [find_image(s, ref) for ref in refs]
            for img in images:
                img.patient, img.visit = ids
            return len(images)

    def assign_hashes(self, visits: Mapping[str, tuple[str, str]]) -> int:
        """Give photos known by SHA-256 their (patient, visit) (a screening's layout or
        manifest); hashes not in the store are passed over. Returns how many were set."""
        checked = {sha: _ids(*ids) for sha, ids in visits.items()}
        done = 0
        with self.db.write() as s:
            for (patient, visit), shas in _grouped(checked).items():
                result = s.execute(
                    update(Image)
                    .where(Image.sha256.in_(shas))
                    .values(patient=patient, visit=visit)
                    .execution_options(synchronize_session=False)
                )
                done += result.rowcount or 0
        return done

    def import_manifest(self, manifest: Manifest) -> ManifestOutcome:
        """Assign the manifest's photos; one not in the store yet is added (hash and size)."""
        problems = list(manifest.problems)
        by_hash: dict[str, tuple[str, str]] = {}
        for path, ids in manifest.visits.items():
            try:
                by_hash[self.photos.add_image(Path(path)).sha256] = ids
            except StoreError as exc:
                problems.append(str(exc))
        return ManifestOutcome(self.assign_hashes(by_hash), problems)

    def lab_confirmed_hashes(self) -> set[str]:
        """The photos (SHA-256) of visits with a lab result, positive or negative: what a
        fine-tune limited to lab-confirmed visits learns from."""
        with self.db.read() as s:
            stmt = (
                select(Image.sha256)
                .join(Visit, (Visit.patient == Image.patient) & (Visit.visit == Image.visit))
                .where(Visit.lab_result.in_(("positive", "negative")))
            )
            return set(s.scalars(stmt))

    def visit_rows(
        self, run_id: int | None = None, *, patient: str | None = None, visit: str | None = None
    ) -> list[VisitRow]:
        """One row per visit among the photos of ``run_id`` (None: every run, each photo with
        the active model's prediction where it has one), sorted by patient and visit;
        ``patient``/``visit``: only those."""
        flt = ReviewFilter(run_id=run_id, all_models=True, patient=patient, visit=visit)
        with self.db.read() as s:
            try:
                scope = queries.queue_scope(s, flt)
            except NotFoundError:
                return []
            rule = settings.referral_rule(s)
            referred = case((queries.referral_clause(rule), 1), else_=0)
            mpox = case((Prediction.top_class == rule.mpox_class, 1), else_=0)
            stmt = (
                select(Image.patient, Image.visit, func.count(), func.sum(referred), func.sum(mpox))
                .select_from(Prediction)
                .join(Image, Image.id == Prediction.image_id)
                .where(Image.patient.is_not(None), Image.visit.is_not(None))
            )
            stmt = queries.apply_filter(stmt, flt, scope, rule)
            stmt = stmt.group_by(Image.patient, Image.visit).order_by(Image.patient, Image.visit)
            counts = s.execute(stmt).all()
            rows = {(v.patient, v.visit): v for v in s.scalars(select(Visit))}
            return [_row(p, v, n, r, m, rows.get((p, v))) for p, v, n, r, m in counts]

    def visit(self, patient: str, visit: str) -> VisitRow:
        """One visit's row (over every run); NotFoundError when no photo carries it."""
        for row in self.visit_rows(patient=patient, visit=visit):
            return row
        raise NotFoundError(
            _("{patient}/{visit}: no screened photo belongs to this visit").format(
                patient=patient, visit=visit
            )
        )

    def photos_of(self, patient: str, visit: str) -> list[VisitPhoto]:
        """The visit's photos, the most suspicious first: referred ones, then by the
        probability of Mpox, then by how unsure the model is."""
        flt = ReviewFilter(patient=patient, visit=visit, all_models=True, sort="name")
        with self.db.read() as s:
            try:
                scope = queries.queue_scope(s, flt)
            except NotFoundError:
                return []
            rule = settings.referral_rule(s)
            page = queries.review_queue(s, flt, scope, limit=10_000)
        photos = [
            VisitPhoto(
                item,
                rule.flags(item.probabilities) or item.check_photo,
                float(item.probabilities.get(rule.mpox_class, 0.0)),
            )
            for item in page.items
        ]
        return sorted(photos, key=lambda p: (not p.referred, -p.mpox, p.item.confidence))

    def decide(
        self,
        patient: str,
        visit: str,
        decision: str | None,
        *,
        who: str,
        classes: Sequence[str] | None = None,
    ) -> None:
        """Record the clinician's decision for the whole visit (a class, or ``refer``);
        None clears it. Kept apart from the per-photo labels."""
        patient, visit = _ids(patient, visit)
        allowed = [*(classes or []), REFER]
        if decision is not None and classes is not None and decision not in allowed:
            raise StoreError(f"{decision!r} is not a decision; use one of {', '.join(allowed)}")
        if decision is not None and not who.strip():
            raise StoreError("who decides is not known; give a name")
        with self.db.write() as s:
            row = _visit_row(s, patient, visit)
            row.decision, row.decided_by = decision, (who if decision else None)
            row.decided_at = utcnow() if decision else None
            audit.record(
                s, "visit", who=who, obj=_object(patient, visit), details={"decision": decision}
            )

    def set_lab(
        self,
        patient: str,
        visit: str,
        result: str | None,
        *,
        who: str,
        on: date | str | None = None,
        test: str | None = None,
    ) -> None:
        """Record the visit's lab (PCR) result: positive, negative or pending, with the date
        it was taken or reported and the test's name; None clears it."""
        patient, visit = _ids(patient, visit)
        if result is not None and result not in LAB_RESULTS:
            raise StoreError(f"{result!r} is not a lab result; use {', '.join(LAB_RESULTS)}")
        day = _iso_date(on)
        with self.db.write() as s:
            row = _visit_row(s, patient, visit)
            row.lab_result, row.lab_date = result, day if result else None
            row.lab_test = (test or "").strip()[:200] or None if result else None
            row.lab_by, row.lab_at = (who, utcnow()) if result else (None, None)
            details = {"result": result, "date": row.lab_date, "test": row.lab_test}
            audit.record(s, "lab", who=who, obj=_object(patient, visit), details=details)


def _object(patient: str, visit: str) -> str:
    """A visit's name in the audit trail: its pseudonymous identifiers, never a file name."""
    return f"visit:{patient}/{visit}"


def _iso_date(on: date | str | None) -> str | None:
    if on is None or on == "":
        return None
    if isinstance(on, date):
        return on.isoformat()
    try:
        return date.fromisoformat(str(on).strip()).isoformat()
    except ValueError:
        raise StoreError(f"{on!r} is not a date; write it as YYYY-MM-DD") from None


def _grouped(visits: Mapping[str, tuple[str, str]]) -> dict[tuple[str, str], list[str]]:
    grouped: dict[tuple[str, str], list[str]] = {}
    for sha, ids in visits.items():
        grouped.setdefault(ids, []).append(sha)
    return grouped


def _row(
    patient: str, visit: str, n: int, referred: int | None, mpox: int | None, v: Visit | None
) -> VisitRow:
    return VisitRow(
        patient=patient,
        visit=visit,
        photos=int(n),
        referred_photos=int(referred or 0),
        mpox_photos=int(mpox or 0),
        decision=v.decision if v else None,
        decided_by=v.decided_by if v else None,
        lab_result=v.lab_result if v else None,
        lab_date=v.lab_date if v else None,
        lab_test=v.lab_test if v else None,
    )
