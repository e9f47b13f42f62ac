"""ORM tables of the case store (the head schema; Alembic revisions build the same tables).

Identity choices, and why:
- an image is the SHA-256 of its bytes, so the same photo in two folders is one row and a moved
  file is recognised; ``path`` is only where it was last seen;
- a prediction is unique per (image, model version): one model never overwrites another's;
- labels are append-only events; ``images.current_label`` caches the result of replaying them
  (kept in the same transaction as each event) so review filters stay index-only at 100k images.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

REFER = "refer"
"""The label meaning "refer / uncertain": reviewed, but not a class the trainer can learn from."""

RUN_STATUSES = ("running", "finished", "cancelled", "failed")
TRAINING_STATUSES = ("running", "finished", "cancelled", "failed")
LABEL_KINDS = ("set", "undo", "redo")
STALE_RUN_SECONDS = 120.0
"""A ``running`` run silent (no batch, no heartbeat) this long is taken as interrupted; on the
same host a dead owner process counts at once (engine.store.owner.OWNER_SILENT_SECONDS)."""

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Aware UTC now; every timestamp in the store is UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite has no time zones) and always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use timezone-aware UTC")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class Image(Base):
    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    path: Mapped[str | None] = mapped_column(Text, index=True)
    size_bytes: Mapped[int | None] = mapped_column(Integer)
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    format: Mapped[str | None] = mapped_column(String(16))
    stored_path: Mapped[str | None] = mapped_column(Text)
    current_label: Mapped[str | None] = mapped_column(String(64), index=True)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    # Set by Store.forget: copies, thumbnails and paths are gone; hash and history remain.
    forgotten_at: Mapped[datetime | None]
    # pseudonymous identifiers (engine.visits.check_identifier); NULL: not given
    patient: Mapped[str | None] = mapped_column(String(64), default=None)
    visit: Mapped[str | None] = mapped_column(String(64), default=None)
    # Two clinicians' labels in force disagree (engine.store.disputes), kept with each event.
    disputed: Mapped[bool] = mapped_column(default=False, server_default=false(), index=True)


Index("ix_images_patient_visit", Image.patient, Image.visit)


class ModelVersion(Base):
    """The registry: one row per model content hash; at most one row is active."""

    __tablename__ = "models"
    __table_args__ = (
        Index(
            "uq_models_one_active",
            "active",
            unique=True,
            sqlite_where=text("active = 1"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    parent_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(default=False)
    # set when a clinician discarded it: hidden from lists and activation, row kept for history
    discarded_at: Mapped[datetime | None] = mapped_column(default=None)


class Run(Base):
    """One screening of a folder with one model."""

    __tablename__ = "runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'finished', 'cancelled', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    folder: Mapped[str] = mapped_column(Text)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    n_total: Mapped[int | None] = mapped_column(Integer)
    n_screened: Mapped[int] = mapped_column(default=0)
    n_skipped: Mapped[int] = mapped_column(default=0)
    n_failed: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    # Who screens it: a run is reopened only when its owner is gone (same host) or silent for
    # OWNER_SILENT_SECONDS (another host); the owner refreshes heartbeat_at every
    # HEARTBEAT_SECONDS while it works, batch or no batch.
    owner_host: Mapped[str | None] = mapped_column(String(255))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_token: Mapped[str | None] = mapped_column(String(64))
    heartbeat_at: Mapped[datetime | None]


class RunItem(Base):
    """A file seen by a run: what ties images (and errors) to the run that met them."""

    __tablename__ = "run_items"
    __table_args__ = (
        UniqueConstraint("run_id", "path"),
        Index("ix_run_items_image_id_run_id", "image_id", "run_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    image_id: Mapped[int | None] = mapped_column(ForeignKey("images.id"))
    path: Mapped[str] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint("image_id", "model_id"),
        # image_id last: the queue's sort tie-break and join key, so the queries that filter on
        # the image's label read these indexes only, never the wide prediction rows.
        Index("ix_predictions_model_confidence", "model_id", "confidence", "image_id"),
        Index(
            "ix_predictions_model_class_confidence",
            "model_id",
            "top_class",
            "confidence",
            "image_id",
        ),
        Index("ix_predictions_model_entropy", "model_id", "entropy", "image_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    model_id: Mapped[int] = mapped_column(ForeignKey("models.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    probabilities: Mapped[dict[str, Any]]
    top_class: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    entropy: Mapped[float | None] = mapped_column(Float)
    # the "not a skin photo" guard (None: the model had none) and the photo-quality check
    scope_score: Mapped[float | None] = mapped_column(Float)
    out_of_scope: Mapped[bool | None] = mapped_column(Boolean)
    quality_issues: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class LabelEvent(Base):
    """Append-only label history; ``undo`` events name the ``set``/``redo`` event they cancel,
    ``redo`` events the ``undo`` they take back (and carry the label it restores).
    ``prediction_id``: the model prediction the clinician was shown when labelling."""

    __tablename__ = "label_events"
    __table_args__ = (
        CheckConstraint("kind IN ('set', 'undo', 'redo')", name="kind"),
        CheckConstraint("(kind IN ('set', 'redo')) = (label IS NOT NULL)", name="label_iff_set"),
        Index("ix_label_events_image_id_id", "image_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("images.id"))
    kind: Mapped[str] = mapped_column(String(8))
    label: Mapped[str | None] = mapped_column(String(64))
    who: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(32), default="clinician")
    undoes_id: Mapped[int | None] = mapped_column(ForeignKey("label_events.id"))
    prediction_id: Mapped[int | None] = mapped_column(
        ForeignKey("predictions.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime]
    # the database user the server authenticated (PostgreSQL sets it; None on SQLite)
    db_user: Mapped[str | None] = mapped_column(String(200))


class Setting(Base):
    """A setting every PoxScreen on this database shares (e.g. the referral rule): JSON value."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(200))


class TrainingRun(Base):
    """A fine-tuning job: what it started from, with what data and settings, and how it ended."""

    __tablename__ = "training_runs"
    __table_args__ = (
        CheckConstraint("status IN ('running', 'finished', 'cancelled', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    base_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"))
    result_model_id: Mapped[int | None] = mapped_column(ForeignKey("models.id"))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    data_summary: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="running")
    metrics: Mapped[dict[str, Any]] = mapped_column(default=dict)
    log: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class Visit(Base):
    """One visit of one patient: the clinician's visit decision and the lab (PCR) result, kept
    apart from the per-photo labels. Its photos are the images with the same identifiers."""

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("patient", "visit"),
        CheckConstraint(
            "lab_result IS NULL OR lab_result IN ('positive', 'negative', 'pending')",
            name="lab_result",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient: Mapped[str] = mapped_column(String(64))
    visit: Mapped[str] = mapped_column(String(64))
    decision: Mapped[str | None] = mapped_column(String(64), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(200), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    lab_result: Mapped[str | None] = mapped_column(String(16), default=None)
    lab_date: Mapped[str | None] = mapped_column(String(10), default=None)  # ISO date
    lab_test: Mapped[str | None] = mapped_column(String(200), default=None)
    lab_by: Mapped[str | None] = mapped_column(String(200), default=None)
    lab_at: Mapped[datetime | None] = mapped_column(default=None)


class Event(Base):
    """The audit trail: who did what, when, on which workstation, to which object (a photo by
    SHA-256, a model by content hash; never a file name). Append-only: the migration adds
    triggers that refuse UPDATE and DELETE, and the store has no API to change a row. ``uid``
    lets a restore put back the events written since its backup exactly once."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_created_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime]
    who: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16), index=True)
    object: Mapped[str | None] = mapped_column(String(80), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the database user the server authenticated (PostgreSQL sets it; None on SQLite)
    db_user: Mapped[str | None] = mapped_column(String(200))
