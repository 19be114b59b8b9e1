"""ceremony_bidder.set_aside_lifted_through: staff let a seat held back release its key again

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 11:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ceremony_bidder", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "set_aside_lifted_through",
                sa.Integer(),
                nullable=True,
                comment="the last set-aside decryption job before staff let this seat release its key again",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("ceremony_bidder", schema=None) as batch_op:
        batch_op.drop_column("set_aside_lifted_through")
