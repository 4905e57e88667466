"""sender heartbeats: dead sending processes are noticed by a stale heartbeat

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import newsletter.storage.models

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sender",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("host", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", newsletter.storage.models.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", newsletter.storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sender", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sender_name"), ["name"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("sender", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sender_name"))
    op.drop_table("sender")
