"""login attempts say what was attempted: a password or a UKey challenge (both are throttled)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04 16:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_attempt") as batch:
        batch.add_column(
            sa.Column(
                "kind",
                sa.String(length=10),
                nullable=False,
                server_default="password",
                comment="password or challenge",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("login_attempt") as batch:
        batch.drop_column("kind")
