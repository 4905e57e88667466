"""item relevance score and suggested section

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 20:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("relevance", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("suggested_section", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_column("suggested_section")
        batch_op.drop_column("relevance")
