"""certificate revocation list

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 05:27:56.940606+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer_serial", sa.String(length=200), nullable=False, comment="SM3(issuer DN):serial, hex"),
        sa.Column("fingerprint", sa.String(length=64), nullable=False, comment="SM3 of the certificate DER"),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("revoked_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revoked_certificate")),
        sa.UniqueConstraint("issuer_serial", name=op.f("uq_revoked_certificate_issuer_serial")),
    )


def downgrade() -> None:
    op.drop_table("revoked_certificate")
