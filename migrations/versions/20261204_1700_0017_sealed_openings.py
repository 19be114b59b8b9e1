"""the openings of bidders' sealed audit events (nonce and facts), wrapped with the platform's
key-encryption key until the tender's deadline, then published into the trail

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 17:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sealed_opening",
        sa.Column("commitment", sa.String(length=64), nullable=False, comment="SM3(nonce ‖ canonical facts)"),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column(
            "box",
            sa.LargeBinary(),
            nullable=False,
            comment="nonce and facts, SM4-GCM under the platform KEK (the commitment bound)",
        ),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "revealed_at",
            archive.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="published into the trail (sealed.reveal) after the deadline",
        ),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_sealed_opening_tender_id_tender")),
        sa.PrimaryKeyConstraint("commitment", name=op.f("pk_sealed_opening")),
    )
    op.create_index(op.f("ix_sealed_opening_tender_id"), "sealed_opening", ["tender_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sealed_opening_tender_id"), table_name="sealed_opening")
    op.drop_table("sealed_opening")
