"""per-issue item overrides and viewpoints written in the workbench

Revision ID: 0014
Revises: 0009
Create Date: 2026-12-03 05:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import newsletter.storage.models

revision: str = "0014"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "item_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("blurb", sa.Text(), nullable=True),
        sa.Column("facts", sa.JSON(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("updated_at", newsletter.storage.models.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(["item_id"], ["item.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period", "item_id", name="uq_item_override"),
    )
    op.create_index(op.f("ix_item_override_period"), "item_override", ["period"], unique=False)
    op.create_table(
        "issue_viewpoint",
        sa.Column("period", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_at", newsletter.storage.models.UTCDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint("period"),
    )


def downgrade() -> None:
    op.drop_table("issue_viewpoint")
    op.drop_index(op.f("ix_item_override_period"), table_name="item_override")
    op.drop_table("item_override")
