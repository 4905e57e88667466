"""feed adaptive poll schedule and ingest-worker claims

Revision ID: 0009
Revises: 0011
Create Date: 2026-12-03 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.storage.models

revision: str = "0009"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("poll_due_at", newsletter.storage.models.UTCDateTime(), nullable=True)
        )
        batch_op.add_column(sa.Column("poll_reason", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("weekly_entries", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=100), nullable=True))
        batch_op.add_column(
            sa.Column("lease_until", newsletter.storage.models.UTCDateTime(), nullable=True)
        )
        batch_op.create_index("ix_feed_poll_due_at", ["poll_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("feed", schema=None) as batch_op:
        batch_op.drop_index("ix_feed_poll_due_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
        batch_op.drop_column("weekly_entries")
        batch_op.drop_column("poll_reason")
        batch_op.drop_column("poll_due_at")
