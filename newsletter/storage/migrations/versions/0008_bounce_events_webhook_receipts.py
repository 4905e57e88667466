"""bounce events and webhook receipts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 02:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.storage.models

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bounce_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("diagnostic", sa.String(length=500), nullable=False),
        sa.Column("event_id", sa.String(length=300), nullable=False),
        sa.Column("occurred_at", newsletter.storage.models.UTCDateTime(), nullable=False),
        sa.Column("received_at", newsletter.storage.models.UTCDateTime(), nullable=False),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscriber.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "event_id", name="uq_bounce_event_source_id"),
    )
    op.create_index("ix_bounce_event_email", "bounce_event", ["email"])
    op.create_index("ix_bounce_event_subscriber_id", "bounce_event", ["subscriber_id"])
    op.create_table(
        "webhook_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("receipt_id", sa.String(length=200), nullable=False),
        sa.Column("received_at", newsletter.storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "receipt_id", name="uq_webhook_receipt_source_id"),
    )
    op.create_index("ix_webhook_receipt_received_at", "webhook_receipt", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_webhook_receipt_received_at", table_name="webhook_receipt")
    op.drop_table("webhook_receipt")
    op.drop_index("ix_bounce_event_subscriber_id", table_name="bounce_event")
    op.drop_index("ix_bounce_event_email", table_name="bounce_event")
    op.drop_table("bounce_event")
