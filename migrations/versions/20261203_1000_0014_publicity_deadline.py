"""the report's completion and a late publicity (Reg 54: candidates publicised within 3 days)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 10:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("evaluation") as batch:
        batch.add_column(
            sa.Column(
                "reported_at",
                archive.db.UTCDateTime(timezone=True),
                nullable=True,
                comment="every member signed the report; Reg 54's 3 days to publicise run from here",
            )
        )
        batch.add_column(
            sa.Column(
                "publicity_late_at",
                archive.db.UTCDateTime(timezone=True),
                nullable=True,
                comment="when a late publicity was reported (once)",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("evaluation") as batch:
        batch.drop_column("publicity_late_at")
        batch.drop_column("reported_at")
