"""Session-level queries behind case exports and the printed report: one row per file with the
shown model's prediction and the label in force with who set it, when, and their note.

Kept apart from the review queue: exports read every row of a run (unreadable files included,
in the order the run met them), the queue pages through predictions only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from engine.paths import path_from_text
from engine.store.disputes import ADJUDICATE
from engine.store.labels import replay
from engine.store.tables import Image, LabelEvent, ModelVersion, Prediction, RunItem

_CHUNK = 500  # ids per IN (...) clause: far below SQLite's variable limit


@dataclass(frozen=True)
class LabelDetail:
    """The ``set`` event in force for an image: the current label, who set it, when, the note."""

    label: str
    who: str
    at: datetime
    note: str | None


@dataclass(frozen=True)
class RawCase:
    """One file as a run met it (or one queue item): image facts plus the model's prediction."""

    path: str
    error: str | None
    image_id: int | None
    sha256: str | None
    stored_path: str | None
    width: int | None
    height: int | None
    top_class: str | None
    confidence: float | None
    entropy: float | None
    probabilities: dict[str, float]
    current_label: str | None
    out_of_scope: bool | None = None  # the guard (None: not checked)
    scope_score: float | None = None
    quality_issues: str | None = None  # the quality check (None: not checked)
    patient: str | None = None  # pseudonymous identifiers (None: not given)
    visit: str | None = None


def label_details(session: Session, image_ids: Iterable[int]) -> dict[int, LabelDetail]:
    """Replay the label history of ``image_ids`` (chunked) and return the events in force."""
    ids = sorted(set(image_ids))
    out: dict[int, LabelDetail] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        events = session.scalars(
            select(LabelEvent).where(LabelEvent.image_id.in_(chunk)).order_by(LabelEvent.id)
        ).all()
        per_image: dict[int, list[LabelEvent]] = {}
        for ev in events:
            per_image.setdefault(ev.image_id, []).append(ev)
        for image_id, evs in per_image.items():
            stack = replay(evs)[1]  # the label-giving events still in force
            if stack:
                top = stack[-1]
                who = f"{top.who} (adjudication)" if top.source == ADJUDICATE else top.who
                out[image_id] = LabelDetail(top.label or "", who, top.created_at, top.note)
    return out


def run_cases(session: Session, run_id: int, model_id: int) -> list[RawCase]:
    """Every file of a run in the order met, readable or not, with ``model_id``'s prediction."""
    pred_join = and_(Prediction.image_id == Image.id, Prediction.model_id == model_id)
    stmt = (
        select(RunItem.path, RunItem.error, Image, Prediction)
        .outerjoin(Image, Image.id == RunItem.image_id)
        .outerjoin(Prediction, pred_join)
        .where(RunItem.run_id == run_id)
        .order_by(RunItem.id)
    )
    return [_raw(path, error, img, pred) for path, error, img, pred in session.execute(stmt)]


def _raw(
    path: str | None, error: str | None, img: Image | None, pred: Prediction | None
) -> RawCase:
    return RawCase(
        path=path_from_text(path or (img.path if img else "") or ""),  # opens the file
        error=error,
        image_id=img.id if img else None,
        sha256=img.sha256 if img else None,
        stored_path=img.stored_path if img else None,
        width=img.width if img else None,
        height=img.height if img else None,
        top_class=pred.top_class if pred else None,
        confidence=pred.confidence if pred else None,
        entropy=pred.entropy if pred else None,
        probabilities=dict(pred.probabilities) if pred else {},
        current_label=img.current_label if img else None,
        out_of_scope=pred.out_of_scope if pred else None,
        scope_score=pred.scope_score if pred else None,
        quality_issues=pred.quality_issues if pred else None,
        patient=img.patient if img else None,
        visit=img.visit if img else None,
    )


def model_of_predictions(session: Session, prediction_ids: Sequence[int]) -> int | None:
    """The model that made the first of ``prediction_ids`` (queue items carry no model)."""
    if not prediction_ids:
        return None
    return session.scalar(select(Prediction.model_id).where(Prediction.id == prediction_ids[0]))


def model_row(session: Session, model_id: int) -> dict[str, Any]:
    """Name, hash, metrics and metadata of a registered model as plain values."""
    model = session.get(ModelVersion, model_id)
    if model is None:
        return {}
    return {
        "name": model.name,
        "content_hash": model.content_hash,
        "version": f"{model.name}@{model.content_hash[:12]}",
        "meta": dict(model.meta or {}),
        "metrics": dict(model.metrics or {}),
        "path": model.path,
        "active": model.active,
    }
