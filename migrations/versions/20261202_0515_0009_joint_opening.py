"""joint opening of a tender's lots (多标段合并开标)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 05:15:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tender") as batch:
        batch.add_column(
            sa.Column(
                "joint_opening",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="多标段合并开标: the lots' ceremonies share one room and move together",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("tender") as batch:
        batch.drop_column("joint_opening")
