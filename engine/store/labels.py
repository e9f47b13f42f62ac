"""Clinician labels as an append-only event history.

Semantics (tested in tests/engine/store/test_labels.py):
- ``set`` events push a label; ``undo`` events take back the most recent ``set`` that is still in
  force (and record which one in ``undoes_id``). The current label is the top of that stack, so
  undo twice goes back two corrections, and undo after a new label takes back the new label.
- An undo with nothing left to take back is refused (NothingToUndoError); nothing is written.
- ``redo`` takes back the latest undo (most recent first, like an editor) and restores the label
  that undo removed, as a new event; a new ``set`` clears what can be redone. With nothing to
  redo it is refused (NothingToRedoError).
- ``images.current_label`` caches the replayed result and is updated in the same transaction as
  the event, so it can never disagree with the history after a crash.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store import disputes
from engine.store.dto import LabelEntry
from engine.store.errors import NothingToRedoError, NothingToUndoError, StoreError
from engine.store.tables import REFER, Image, LabelEvent, ModelVersion, Prediction

REFER_ALIASES = {"refer", "uncertain", "refer/uncertain", "refer / uncertain", "?"}
MAX_LABEL = 64


def normalise_label(label: str, classes: Iterable[str] | None = None) -> str:
    """Canonical spelling of a label (case-insensitive), or StoreError listing what is allowed."""
    text = str(label).strip()
    if text.lower() in REFER_ALIASES:
        return REFER
    if not text or len(text) > MAX_LABEL:
        raise StoreError(f"label {label!r}: must be 1..{MAX_LABEL} characters")
    if classes is None:
        return text
    allowed = list(classes)
    for name in allowed:
        if name.lower() == text.lower():
            return name
    raise StoreError(f"label {label!r} is not one of {', '.join(allowed)} or {REFER!r}")


def _events(session: Session, image_id: int) -> Sequence[LabelEvent]:
    return session.scalars(
        select(LabelEvent).where(LabelEvent.image_id == image_id).order_by(LabelEvent.id)
    ).all()


def replay(
    events: Sequence[LabelEvent],
) -> tuple[list[LabelEntry], list[LabelEvent], list[LabelEvent]]:
    """Each event with the label it left in force, the final stack of label-giving events
    (``set`` and ``redo``), and the undo events a redo may still take back (latest last)."""
    stack: list[LabelEvent] = []
    redoable: list[LabelEvent] = []
    entries: list[LabelEntry] = []
    for ev in events:
        if ev.kind == "set":
            stack.append(ev)
            redoable.clear()
        elif ev.kind == "redo":
            stack.append(ev)
            redoable = [u for u in redoable if u.id != ev.undoes_id]
        else:
            stack = [s for s in stack if s.id != ev.undoes_id]
            redoable.append(ev)
        entries.append(
            LabelEntry(
                id=ev.id,
                kind=ev.kind,
                label=ev.label,
                who=ev.who,
                note=ev.note,
                source=ev.source,
                created_at=ev.created_at,
                undoes_id=ev.undoes_id,
                label_after=stack[-1].label if stack else None,
            )
        )
    return entries, stack, redoable


def _locked(session: Session, image: Image) -> Image:
    """Re-read the image row FOR UPDATE (PostgreSQL); SQLite already holds the write lock."""
    return session.scalars(select(Image).where(Image.id == image.id).with_for_update()).one()


def set_label(
    session: Session,
    image: Image,
    label: str,
    *,
    who: str,
    note: str | None,
    source: str,
    now: datetime,
    prediction_id: int | None = None,
    admin: bool = False,
) -> LabelEvent:
    """Push a label (``admin``: the user may settle a dispute they are part of, with
    ``source="adjudicate"``; see engine.store.disputes)."""
    if not who.strip():
        raise StoreError("a label needs a clinician name (who)")
    image = _locked(session, image)
    _, before, _ = replay(_events(session, image.id))
    if source == "clinician" and disputes.settles(before, who):
        source = disputes.ADJUDICATE  # a third clinician's label settles the dispute
    elif source == disputes.ADJUDICATE:
        disputes.check_adjudication(before, who, admin, image.sha256)
    event = LabelEvent(
        image_id=image.id,
        kind="set",
        label=label,
        who=who,
        note=note,
        source=source,
        prediction_id=prediction_id,
        created_at=now,
    )
    session.add(event)
    image.current_label = label
    session.flush()
    image.disputed = disputes.is_disputed([*before, event])
    return event


def undo_label(
    session: Session, image: Image, *, who: str, note: str | None, source: str, now: datetime
) -> tuple[LabelEvent, str | None]:
    """Take back the label in force; return the undo event and the label now in force."""
    image = _locked(session, image)
    _, stack, _ = replay(_events(session, image.id))
    if not stack:
        raise NothingToUndoError(f"image {image.sha256[:12]}... has no label to undo")
    event = LabelEvent(
        image_id=image.id,
        kind="undo",
        label=None,
        who=who,
        note=note,
        source=source,
        undoes_id=stack[-1].id,
        created_at=now,
    )
    session.add(event)
    current = stack[-2].label if len(stack) > 1 else None
    image.current_label = current
    image.disputed = disputes.is_disputed(stack[:-1])
    session.flush()
    return event, current


def redo_label(
    session: Session, image: Image, *, who: str, note: str | None, source: str, now: datetime
) -> tuple[LabelEvent, str]:
    """Take back the latest undo: restore the label it removed; return the event and label."""
    if not who.strip():
        raise StoreError("a label needs a clinician name (who)")
    image = _locked(session, image)
    events = _events(session, image.id)
    _, stack, redoable = replay(events)
    if not redoable:
        raise NothingToRedoError(f"image {image.sha256[:12]}... has no undone label to redo")
    undo = redoable[-1]
    restored = next(e for e in events if e.id == undo.undoes_id)
    assert restored.label is not None
    event = LabelEvent(
        image_id=image.id,
        kind="redo",
        label=restored.label,
        who=who,
        note=note,
        source=source,
        undoes_id=undo.id,
        prediction_id=restored.prediction_id,
        created_at=now,
    )
    session.add(event)
    image.current_label = restored.label
    session.flush()
    image.disputed = disputes.is_disputed([*stack, event])
    return event, restored.label


def history(session: Session, image: Image) -> list[LabelEntry]:
    """The label events, each with the model prediction the clinician was shown (if known)."""
    events = _events(session, image.id)
    entries, _, _ = replay(events)
    ids = {e.prediction_id for e in events if e.prediction_id is not None}
    shown: dict[int, tuple[str, str, float]] = {}
    if ids:
        rows = session.execute(
            select(Prediction.id, ModelVersion.name, ModelVersion.content_hash)
            .add_columns(Prediction.top_class, Prediction.confidence)
            .join(ModelVersion, ModelVersion.id == Prediction.model_id)
            .where(Prediction.id.in_(ids))
        )
        shown = {pid: (f"{name}@{h[:12]}", top, conf) for pid, name, h, top, conf in rows}
    out = []
    for ev, entry in zip(events, entries, strict=True):
        seen = shown.get(ev.prediction_id) if ev.prediction_id is not None else None
        if seen is not None:
            entry = dataclasses.replace(
                entry, model_version=seen[0], predicted_class=seen[1], confidence=seen[2]
            )
        out.append(entry)
    return out


def shown_prediction(session: Session, image_id: int, model_id: int | None) -> int | None:
    """The id of the prediction of ``model_id`` (the active model) for an image, if any."""
    if model_id is None:
        return None
    return session.scalar(
        select(Prediction.id).where(
            Prediction.image_id == image_id, Prediction.model_id == model_id
        )
    )
