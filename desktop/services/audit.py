"""The audit trail for the desktop (Qt-free): read events with filters, export them as CSV,
the readers' agreement, and say who acts for the events of actions that name nobody."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path

from engine.atomic import atomic_path
from engine.i18n import N_, _
from engine.store import Store
from engine.store.audit import CSV_COLUMNS, KINDS, AuditEvent, write_csv
from engine.store.disputes import Agreement

__all__ = [
    "CSV_COLUMNS",
    "KINDS",
    "Agreement",
    "AuditEvent",
    "AuditQuery",
    "act_as",
    "details_text",
    "kind_word",
    "export_events",
    "load_agreement",
    "load_events",
    "record_settings",
    "store_role",
]


#: The events' kinds in words, for the filter and the table (the recorded kind stays the verb).
KIND_WORDS = {
    "label": N_("label"),
    "undo": N_("undo"),
    "redo": N_("redo"),
    "note": N_("note"),
    "forget": N_("forget"),
    "backup": N_("backup"),
    "restore": N_("restore"),
    "export": N_("export"),
    "report": N_("report"),
    "train": N_("train"),
    "promote": N_("promote"),
    "activate": N_("activate"),
    "rollback": N_("rollback"),
    "discard": N_("discard"),
    "adjudicate": N_("adjudicate"),
    "settings": N_("settings"),
    "visit": N_("visit"),
    "lab": N_("lab"),
}


def kind_word(kind: str) -> str:
    """An event's kind in the user's language (a kind this list lacks as recorded)."""
    return _(KIND_WORDS[kind]) if kind in KIND_WORDS else kind


@dataclass(frozen=True)
class AuditQuery:
    """The Audit view's filter: ``who`` (as recorded, any case), one ``kind``, ``since`` a day."""

    who: str = ""
    kind: str = ""
    since: date | None = None


def act_as(store: Store, who: Callable[[], str]) -> None:
    """Record the app's clinician (asked each time: Settings may change it) on the events of
    actions that name nobody (forget, backup, export, report)."""
    store.db.actor = who


def load_events(store: Store, query: AuditQuery) -> list[AuditEvent]:
    """The events the query lets through, oldest first."""
    since = datetime.combine(query.since, time.min, tzinfo=timezone.utc) if query.since else None
    kinds = [query.kind] if query.kind else None
    return store.events(since=since, who=query.who.strip() or None, kinds=kinds)


def store_role(store: Store) -> str | None:
    """ "admin", "clinician" or None (a shared store without roles): engine.store.roles."""
    return store.role()


def load_agreement(store: Store) -> Agreement:
    return store.audit.agreement()


def export_events(store: Store, events: list[AuditEvent], out: str | Path) -> int:
    """Write the events shown as CSV (atomically, through the one CSV writer); the export is
    itself an event."""
    with atomic_path(out) as tmp, tmp.open("w", newline="", encoding="utf-8") as fh:
        rows = write_csv(events, fh)
    store.record_event("export", details={"format": "audit csv", "rows": rows})
    return rows


def record_settings(store: Store, who: str, changed: dict[str, str]) -> None:
    """A ``settings`` event for the app's own settings the clinician changed."""
    store.record_event("settings", who=who, details=changed)


def details_text(event: AuditEvent) -> str:
    """The details as one short line for the table."""
    return json.dumps(event.details, sort_keys=True, default=str) if event.details else ""
