"""Initial case-store schema: images, models, runs, run items, predictions, label events.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "images",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("size_bytes", sa.Integer(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("format", sa.String(16), nullable=True),
        sa.Column("stored_path", sa.Text(), nullable=True),
        sa.Column("current_label", sa.String(64), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_images"),
        sa.UniqueConstraint("sha256", name="uq_images_sha256"),
    )
    op.create_index("ix_images_current_label", "images", ["current_label"])

    op.create_table(
        "models",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("path", sa.Text(), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("parent_hash", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_models"),
        sa.UniqueConstraint("content_hash", name="uq_models_content_hash"),
    )
    op.create_index(
        "uq_models_one_active",
        "models",
        ["active"],
        unique=True,
        sqlite_where=sa.text("active = 1"),
        postgresql_where=sa.text("active"),
    )

    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("n_total", sa.Integer(), nullable=True),
        sa.Column("n_screened", sa.Integer(), nullable=False),
        sa.Column("n_skipped", sa.Integer(), nullable=False),
        sa.Column("n_failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('running', 'finished', 'cancelled', 'failed')", name="ck_runs_status"
        ),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_runs_model_id_models"),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
    )
    op.create_index("ix_runs_model_id", "runs", ["model_id"])

    op.create_table(
        "run_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("image_id", sa.Integer(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_run_items_run_id_runs", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name="fk_run_items_image_id_images"),
        sa.PrimaryKeyConstraint("id", name="pk_run_items"),
        sa.UniqueConstraint("run_id", "path", name="uq_run_items_run_id_path"),
    )
    op.create_index("ix_run_items_image_id_run_id", "run_items", ["image_id", "run_id"])

    op.create_table(
        "predictions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("probabilities", sa.JSON(), nullable=False),
        sa.Column("top_class", sa.String(64), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name="fk_predictions_image_id_images"),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], name="fk_predictions_model_id_models"),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name="fk_predictions_run_id_runs", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_predictions"),
        sa.UniqueConstraint("image_id", "model_id", name="uq_predictions_image_id_model_id"),
    )
    op.create_index(
        "ix_predictions_model_confidence", "predictions", ["model_id", "confidence", "image_id"]
    )
    op.create_index(
        "ix_predictions_model_class_confidence",
        "predictions",
        ["model_id", "top_class", "confidence", "image_id"],
    )

    op.create_table(
        "label_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("image_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("label", sa.String(64), nullable=True),
        sa.Column("who", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("undoes_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('set', 'undo')", name="ck_label_events_kind"),
        sa.CheckConstraint(
            "(kind = 'set') = (label IS NOT NULL)", name="ck_label_events_label_iff_set"
        ),
        sa.ForeignKeyConstraint(
            ["image_id"], ["images.id"], name="fk_label_events_image_id_images"
        ),
        sa.ForeignKeyConstraint(
            ["undoes_id"], ["label_events.id"], name="fk_label_events_undoes_id_label_events"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_label_events"),
    )
    op.create_index("ix_label_events_image_id_id", "label_events", ["image_id", "id"])


def downgrade() -> None:
    for table in ("label_events", "predictions", "run_items", "runs", "models", "images"):
        op.drop_table(table)
