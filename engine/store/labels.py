"""Clinician labels as an append-only event history.

Semantics (tested in tests/engine/store/test_labels.py):
- ``set`` events push a label; ``undo`` events take back the most recent ``set`` that is still in
  force (and record which one in ``undoes_id``). The current label is the top of that stack, so
  undo twice goes back two corrections, and undo after a new label takes back the new label.
- An undo with nothing left to take back is refused (NothingToUndoError); nothing is written.
- ``images.current_label`` caches the replayed result and is updated in the same transaction as
  the event, so it can never disagree with the history after a crash.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.store.dto import LabelEntry
from engine.store.errors import NothingToUndoError, StoreError
from engine.store.models import REFER, Image, LabelEvent

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


def replay(events: Sequence[LabelEvent]) -> tuple[list[LabelEntry], list[LabelEvent]]:
    """Each event with the label it left in force, and the final stack of ``set`` events."""
    stack: list[LabelEvent] = []
    entries: list[LabelEntry] = []
    for ev in events:
        if ev.kind == "set":
            stack.append(ev)
        else:
            stack = [s for s in stack if s.id != ev.undoes_id]
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
    return entries, stack


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
) -> LabelEvent:
    if not who.strip():
        raise StoreError("a label needs a clinician name (who)")
    image = _locked(session, image)
    event = LabelEvent(
        image_id=image.id,
        kind="set",
        label=label,
        who=who,
        note=note,
        source=source,
        created_at=now,
    )
    session.add(event)
    image.current_label = label
    session.flush()
    return event


def undo_label(
    session: Session, image: Image, *, who: str, note: str | None, source: str, now: datetime
) -> tuple[LabelEvent, str | None]:
    """Take back the label in force; return the undo event and the label now in force."""
    image = _locked(session, image)
    _, stack = replay(_events(session, image.id))
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
    session.flush()
    return event, current


def history(session: Session, image: Image) -> list[LabelEntry]:
    entries, _ = replay(_events(session, image.id))
    return entries
