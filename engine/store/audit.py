"""The audit trail: who did what, when, on which workstation, to which object.

Events are named by their verb (:data:`KINDS`). A photo is named by its SHA-256 and a model by
its content hash (``photo:<sha256>``, ``model:<hash>``), never by a file name, so forgetting a
photo leaves no name behind. Repositories that do an action call :func:`record` inside the
action's own transaction, so an action and its event are written together or not at all. There
is no API to change or delete an event, and the database refuses it too (triggers added by
migration 0007).

Who: an action that names its clinician records that name; otherwise the store's ``actor``
(set by whoever opened it: the app's clinician, the command line's ``--who``), else the login
name marked unverified.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.store import disputes, labels
from engine.store.database import Database
from engine.store.errors import StoreError
from engine.store.tables import Event, Image, LabelEvent, utcnow

KINDS = (
    "label", "undo", "redo", "note", "forget", "backup", "restore", "export", "report", "train",
    "promote", "activate", "rollback", "discard", "adjudicate", "settings", "visit", "lab",
)  # fmt: skip
UNVERIFIED = " (login, unverified)"
WHO_ENV = "POXSCREEN_USER"

#: Who is acting, asked when an event is recorded (see the module docstring).
Actor = Callable[[], str]


def login_name() -> str:
    """The login name, marked unverified: nobody confirmed it is the clinician."""
    try:
        return f"{getpass.getuser()}{UNVERIFIED}"
    except Exception:  # no login name (some containers)
        return f"unknown{UNVERIFIED}"


def workstation() -> str:
    """This computer's name, as the audit trail shows it."""
    return socket.gethostname() or "unknown"


def photo(sha256: str) -> str:
    """The object name of a photo: its SHA-256, never its file name."""
    return f"photo:{sha256}"


def model(content_hash: str) -> str:
    """The object name of a model version: its content hash."""
    return f"model:{content_hash}"


@dataclass(frozen=True)
class AuditEvent:
    """One recorded event (times in UTC)."""

    id: int
    created_at: datetime
    who: str
    host: str
    kind: str
    object: str | None
    details: dict[str, Any] = field(default_factory=dict)
    db_user: str | None = None  # the database user the server authenticated (PostgreSQL)


def _info(row: Event) -> AuditEvent:
    return AuditEvent(
        row.id,
        row.created_at,
        row.who,
        row.host,
        row.kind,
        row.object,
        dict(row.details or {}),
        row.db_user,
    )


def record(
    session: Session,
    kind: str,
    *,
    who: str,
    obj: str | None = None,
    details: Mapping[str, Any] | None = None,
    when: datetime | None = None,
) -> Event:
    """Add one event in the caller's transaction (the action it records is in the same one)."""
    if kind not in KINDS:
        raise StoreError(f"audit event kind {kind!r} is not one of {', '.join(KINDS)}")
    row = Event(
        uid=uuid.uuid4().hex,
        created_at=when or utcnow(),
        who=(who or "").strip() or login_name(),
        host=workstation(),
        kind=kind,
        object=obj,
        details=dict(details or {}),
    )
    session.add(row)
    return row


def acting(db: Database, given: str | None = None) -> str:
    """Who an event records: ``given``, else ``db.actor()`` (whoever opened the store says who
    acts), else $POXSCREEN_USER, else the login name marked unverified."""
    if given and given.strip():
        return given.strip()
    name = db.actor() if db.actor is not None else os.environ.get(WHO_ENV, "")
    return name.strip() if name and name.strip() else login_name()


def parse_since(text: str) -> datetime:
    """A ``--since`` date or date-time (ISO 8601, UTC unless it says otherwise)."""
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise StoreError(
            f"--since {text!r}: not a date; give YYYY-MM-DD or YYYY-MM-DDTHH:MM"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class Audit:
    """Record and read the audit trail (``store.audit``); nothing here changes an event."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def who(self, given: str | None = None) -> str:
        """``given``, else the store's actor, else the login name marked unverified."""
        return acting(self.db, given)

    def record(
        self,
        kind: str,
        *,
        who: str | None = None,
        obj: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> AuditEvent:
        """Record an event on its own (an export, a report, a backup: no database change)."""
        with self.db.write() as s:
            row = record(s, kind, who=self.who(who), obj=obj, details=details)
            s.flush()
            return _info(row)

    def events(
        self,
        *,
        since: datetime | None = None,
        who: str | None = None,
        kinds: Iterable[str] | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """Events oldest first; ``who`` matches case-insensitively, ``kinds`` any of them."""
        wanted = list(kinds or [])
        unknown = [k for k in wanted if k not in KINDS]
        if unknown:
            raise StoreError(f"unknown event kind {unknown[0]!r}; kinds: {', '.join(KINDS)}")
        stmt = select(Event).order_by(Event.created_at, Event.id)
        if since is not None:
            stmt = stmt.where(Event.created_at >= since)
        if who:
            stmt = stmt.where(Event.who.ilike(who.strip()))
        if wanted:
            stmt = stmt.where(Event.kind.in_(wanted))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.db.read() as s:
            return [_info(row) for row in s.scalars(stmt)]

    def agreement(self) -> disputes.Agreement:
        """Cohen's kappa and class-pair counts over photos two or more clinicians labelled."""
        with self.db.read() as s:
            return disputes.agreement(_per_photo_readings(s))


def trail_of(db_file: Path) -> list[dict[str, Any]]:
    """Every event of an SQLite store, read without writing to it (a restore keeps them);
    empty when the file is missing, unreadable or older than the audit trail."""
    if not db_file.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{db_file.as_uri()}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute(
                "SELECT uid, created_at, who, host, kind, object, details FROM events ORDER BY id"
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:
        return []
    keys = ("uid", "created_at", "who", "host", "kind", "object", "details")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def put_back(session: Session, trail: Iterable[Mapping[str, Any]]) -> int:
    """Add the events of ``trail`` this store lacks (matched by ``uid``), in their order;
    returns how many were added."""
    have = set(session.scalars(select(Event.uid)))
    added = 0
    for row in trail:
        if row["uid"] in have:
            continue
        when = datetime.fromisoformat(str(row["created_at"])).replace(tzinfo=timezone.utc)
        details = row["details"]
        session.add(
            Event(
                uid=row["uid"],
                created_at=when,
                who=row["who"],
                host=row["host"],
                kind=row["kind"],
                object=row["object"],
                details=json.loads(details) if isinstance(details, str) else dict(details or {}),
            )
        )
        added += 1
    return added


#: The columns of the audit trail as CSV (the CLI's --format csv and the app's export).
CSV_COLUMNS = ("id", "when_utc", "who", "db_user", "workstation", "kind", "object", "details")


def csv_row(event: AuditEvent) -> list[Any]:
    """One event as a CSV row (``details`` as compact JSON)."""
    when = event.created_at.isoformat(timespec="seconds")
    details = json.dumps(event.details, sort_keys=True, separators=(",", ":"), default=str)
    row = [event.id, when, event.who, event.db_user or "", event.host, event.kind]
    return [*row, event.object or "", details]


def write_csv(events: Iterable[AuditEvent], fh: IO[str]) -> int:
    """Write events as CSV through the one CSV writer (no cell can start a formula)."""
    from engine import csvsafe

    out = csvsafe.writer(fh)
    out.writerow(CSV_COLUMNS)
    count = 0
    for event in events:
        out.writerow(csv_row(event))
        count += 1
    return count


def _per_photo_readings(session: Session) -> list[list[disputes.Reading]]:
    """Each labelled photo's independent readings (engine.store.disputes)."""
    ids = session.scalars(
        select(LabelEvent.image_id)
        .join(Image, Image.id == LabelEvent.image_id)
        .group_by(LabelEvent.image_id)
        .having(func.count(func.distinct(LabelEvent.who)) > 1)
    ).all()
    out = []
    for image_id in ids:
        events = session.scalars(
            select(LabelEvent).where(LabelEvent.image_id == image_id).order_by(LabelEvent.id)
        ).all()
        _, stack, _ = labels.replay(events)
        out.append(disputes.independent_readings(stack))
    return out
