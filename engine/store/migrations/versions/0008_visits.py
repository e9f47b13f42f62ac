"""Patients and visits: ``images.patient`` / ``images.visit`` (pseudonymous identifiers, NULL:
not given) and the ``visits`` table (the clinician's visit decision and the lab result, kept
apart from the per-photo labels).

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("patient", sa.String(64), nullable=True))
        batch.add_column(sa.Column("visit", sa.String(64), nullable=True))
        batch.create_index("ix_images_patient_visit", ["patient", "visit"])
    op.create_table(
        "visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient", sa.String(64), nullable=False),
        sa.Column("visit", sa.String(64), nullable=False),
        sa.Column("decision", sa.String(64), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.Column("lab_result", sa.String(16), nullable=True),
        sa.Column("lab_date", sa.String(10), nullable=True),
        sa.Column("lab_test", sa.String(200), nullable=True),
        sa.Column("lab_by", sa.String(200), nullable=True),
        sa.Column("lab_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint(
            "lab_result IS NULL OR lab_result IN ('positive', 'negative', 'pending')",
            name="ck_visits_lab_result",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_visits"),
        sa.UniqueConstraint("patient", "visit", name="uq_visits_patient_visit"),
    )


def downgrade() -> None:
    op.drop_table("visits")
    with op.batch_alter_table("images") as batch:
        batch.drop_index("ix_images_patient_visit")
        batch.drop_column("visit")
        batch.drop_column("patient")
