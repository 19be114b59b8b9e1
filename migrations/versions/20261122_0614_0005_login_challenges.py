"""login challenges

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 06:14:52.348139+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_challenge",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("issued_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_challenge")),
    )


def downgrade() -> None:
    op.drop_table("login_challenge")
