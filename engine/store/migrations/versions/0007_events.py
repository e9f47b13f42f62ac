"""The audit trail (``events``, append-only), disputed photos (``images.disputed``), and the
database user behind each event and label (``db_user``; set by the server on PostgreSQL).

``events`` records who did what, when, where and to which object; triggers refuse every UPDATE
and DELETE of a row, whatever client connects. ``images.disputed`` is backfilled from the label
history: a photo whose labels in force, one per clinician, disagree since its last adjudication.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

REFUSE = "events are append-only: an audit event is never changed or deleted"
SQLITE_TRIGGERS = [
    f"CREATE TRIGGER events_no_{verb.lower()} BEFORE {verb} ON events "
    f"BEGIN SELECT RAISE(ABORT, '{REFUSE}'); END"
    for verb in ("UPDATE", "DELETE")
]
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger AS $$ "
    f"BEGIN RAISE EXCEPTION '{REFUSE}'; END; $$ LANGUAGE plpgsql"
)
PG_DB_USER = (
    "CREATE OR REPLACE FUNCTION poxscreen_db_user() RETURNS trigger AS $$ "
    "BEGIN NEW.db_user := session_user; RETURN NEW; END; $$ LANGUAGE plpgsql"
)
PG_DB_USER_TRIGGERS = [
    f"CREATE TRIGGER {table}_db_user BEFORE INSERT ON {table} "
    "FOR EACH ROW EXECUTE FUNCTION poxscreen_db_user()"
    for table in ("events", "label_events")
]
PG_TRIGGER = (
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION events_append_only()"
)


def _disputed(events: list[tuple[str, str | None, str, str, int | None, int]]) -> bool:
    """(kind, label, who, source, undoes_id, id) oldest first -> the photo is disputed."""
    stack: list[tuple[int, str | None, str, str]] = []
    for kind, label, who, source, undoes, event_id in events:
        if kind == "undo":
            stack = [e for e in stack if e[0] != undoes]
        else:
            stack.append((event_id, label, who, source))
    since = max((i for i, e in enumerate(stack) if e[3] == "adjudicate"), default=0)
    latest: dict[str, str | None] = {}
    for _id, label, who, _source in stack[since:]:
        latest[who.strip().casefold()] = label
    return len({v for v in latest.values() if v and v != "refer"}) > 1


def _backfill() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            "SELECT image_id, kind, label, who, source, undoes_id, id FROM label_events "
            "ORDER BY image_id, id"
        )
    ).all()
    per_image: dict[int, list[tuple[str, str | None, str, str, int | None, int]]] = {}
    for image_id, *event in rows:
        per_image.setdefault(image_id, []).append(tuple(event))  # type: ignore[arg-type]
    disputed = [i for i, events in per_image.items() if _disputed(events)]
    for image_id in disputed:
        conn.execute(
            sa.text("UPDATE images SET disputed = :t WHERE id = :i"), {"t": True, "i": image_id}
        )


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("uid", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("object", sa.String(80), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("db_user", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.UniqueConstraint("uid", name="uq_events_uid"),
    )
    op.create_index("ix_events_created_at", "events", ["created_at"])
    op.create_index("ix_events_kind", "events", ["kind"])
    op.create_index("ix_events_object", "events", ["object"])
    op.add_column("label_events", sa.Column("db_user", sa.String(200), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        for statement in (PG_FUNCTION, PG_TRIGGER, PG_DB_USER, *PG_DB_USER_TRIGGERS):
            op.execute(statement)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)
    # a plain ADD COLUMN: batch mode would rebuild `images`, which foreign keys forbid
    op.add_column(
        "images", sa.Column("disputed", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.create_index("ix_images_disputed", "images", ["disputed"])
    _backfill()


def downgrade() -> None:
    op.drop_index("ix_images_disputed", "images")
    op.drop_column("images", "disputed")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS events_append_only ON events")
        op.execute("DROP FUNCTION IF EXISTS events_append_only()")
        op.execute("DROP TRIGGER IF EXISTS label_events_db_user ON label_events")
        op.execute("DROP TRIGGER IF EXISTS events_db_user ON events")
        op.execute("DROP FUNCTION IF EXISTS poxscreen_db_user()")
    op.drop_column("label_events", "db_user")
    op.drop_index("ix_events_object", "events")
    op.drop_index("ix_events_kind", "events")
    op.drop_index("ix_events_created_at", "events")
    op.drop_table("events")
