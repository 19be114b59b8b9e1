"""UKey login challenges are stateless (server-MACed tokens): only used ones are kept, to refuse replay

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 18:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # outstanding challenges live two minutes: dropping them only makes a login in flight ask again
    op.drop_table("login_challenge")
    op.create_table(
        "used_login_challenge",
        sa.Column("nonce", sa.String(length=64), nullable=False, comment="the token's random nonce, hex"),
        sa.Column("expires_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_login_challenge")),
    )


def downgrade() -> None:
    op.drop_table("used_login_challenge")
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
