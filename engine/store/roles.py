"""Two roles on a shared PostgreSQL database, enforced by the server whatever client connects.

- ``poxscreen_clinician``: screen, label, write notes, reports and exports, train candidate
  models. It reads every table; it may add rows but never change or delete a label or an audit
  event; on ``images`` and ``models`` it may change only the columns its work needs (column
  privileges), so forgetting a photo (``images.forgotten_at``), activating or discarding a model
  (``models.active``, ``models.discarded_at``) and the shared settings (the referral rule) stay
  out of its reach, even with direct SQL.
- ``poxscreen_admin``: all of that (it is a member of the clinician role) and those admin
  actions too. Nobody may change or delete an event (a trigger refuses it, for the owner too).

The server records the authenticated user in ``db_user`` of every label and event (a trigger:
the client cannot set it). A single-user SQLite store has one local user holding both roles.
Reading is not restricted: anyone who can connect can read, and so copy, the data.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from engine.store.errors import StoreError

CLINICIAN = "poxscreen_clinician"
ADMIN = "poxscreen_admin"
ROLES = {"clinician": CLINICIAN, "admin": ADMIN}
NEEDS_ADMIN = "needs the admin role"

_TABLES = (
    "images", "models", "runs", "run_items", "predictions", "label_events", "settings",
    "training_runs", "events", "alembic_version",
)  # fmt: skip
_IMAGE_COLUMNS = (
    "path, size_bytes, width, height, format, stored_path, current_label, last_seen_at, disputed"
)
_MODEL_COLUMNS = "name, path, meta, metrics, parent_hash"
_GRANTS = [
    f"REVOKE ALL ON {', '.join(_TABLES)} FROM PUBLIC",
    f"GRANT SELECT ON {', '.join(_TABLES)} TO {CLINICIAN}",
    f"GRANT INSERT ON images, models, runs, run_items, predictions, label_events, training_runs, "
    f"events TO {CLINICIAN}",
    f"GRANT UPDATE ON runs, run_items, predictions, training_runs TO {CLINICIAN}",
    f"GRANT DELETE ON run_items TO {CLINICIAN}",
    f"GRANT UPDATE ({_IMAGE_COLUMNS}) ON images TO {CLINICIAN}",
    f"GRANT UPDATE ({_MODEL_COLUMNS}) ON models TO {CLINICIAN}",
    f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {CLINICIAN}",
    f"GRANT {CLINICIAN} TO {ADMIN}",
    f"GRANT UPDATE ON images, models TO {ADMIN}",
    f"GRANT INSERT, UPDATE ON settings TO {ADMIN}",
]
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def init_roles(engine: Engine) -> None:
    """Create both roles (if missing) and grant them what they may do; run as the database's
    owner, once after the first migration (again after an upgrade adds tables)."""
    if not _is_postgres(engine):
        raise StoreError("roles are for a shared PostgreSQL store; a SQLite store has one user")
    with engine.begin() as conn:
        for role in (CLINICIAN, ADMIN):
            exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role})
            if not exists:
                conn.execute(text(f"CREATE ROLE {role} NOLOGIN"))
        for statement in _GRANTS:
            conn.execute(text(statement))


def add_user(engine: Engine, name: str, role: str, password: str) -> None:
    """A login for ``name`` in ``role`` (clinician or admin), or a new password and role for an
    existing one. The password never appears in a message."""
    if role not in ROLES:
        raise StoreError(f"role {role!r}: choose clinician or admin")
    if not _NAME.fullmatch(name):
        raise StoreError(
            f"user name {name!r}: use lower-case letters, digits and _ (a PostgreSQL role name)"
        )
    if not password:
        raise StoreError(f"user {name}: an empty password is refused")
    with engine.begin() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": name})
        quoted = conn.scalar(text("SELECT quote_literal(:p)"), {"p": password})
        verb = "ALTER" if exists else "CREATE"
        conn.execute(text(f"{verb} ROLE {name} LOGIN PASSWORD {quoted}"))
        other = ADMIN if role == "clinician" else CLINICIAN
        if role == "clinician":
            conn.execute(text(f"REVOKE {other} FROM {name}"))
        conn.execute(text(f"GRANT {ROLES[role]} TO {name}"))


def role_of(engine: Engine) -> str | None:
    """The role of the connected user: "admin" (SQLite's one user, a PostgreSQL superuser or
    owner, a member of poxscreen_admin), "clinician", or None when roles were never set up."""
    if not _is_postgres(engine):
        return "admin"
    try:
        with engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT r.rolsuper, "
                    "pg_has_role(session_user, :admin, 'member'), "
                    "pg_has_role(session_user, :clin, 'member') "
                    "FROM pg_roles r WHERE r.rolname = session_user"
                ),
                {"admin": ADMIN, "clin": CLINICIAN},
            ).one()
    except SQLAlchemyError:  # the roles do not exist: nobody set them up
        return None
    superuser, admin, clinician = row
    if superuser or admin:
        return "admin"
    return "clinician" if clinician else None


def refused(exc: SQLAlchemyError) -> bool:
    """True when the server refused a statement for want of a privilege (SQLSTATE 42501)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == "42501"
