"""opendata: the OCDS releases (immutable), the sweep's cursor, held tenders and daily bulk files

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-05 00:10:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ocds_bulk",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, comment="releases or records"),
        sa.Column("object_key", sa.String(length=80), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False, comment="lines in the file"),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocds_bulk")),
        sa.UniqueConstraint("day", "kind", name="uq_ocds_bulk_day_kind"),
    )
    op.create_index(op.f("ix_ocds_bulk_day"), "ocds_bulk", ["day"], unique=False)
    cursor = op.create_table(
        "ocds_cursor",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_ocds_cursor_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocds_cursor")),
    )
    op.create_table(
        "ocds_held",
        sa.Column("tender_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False, comment="the last error's class and message"),
        sa.Column("last_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_ocds_held_tender_id_tender")),
        sa.PrimaryKeyConstraint("tender_id", name=op.f("pk_ocds_held")),
    )
    op.create_table(
        "ocds_release",
        sa.Column("id", sa.Integer(), nullable=False, comment="publication order: the API's page cursor"),
        sa.Column(
            "release_id",
            sa.String(length=80),
            nullable=False,
            comment="OCDS release id, {tender code}-{n}: the tender's n-th release",
        ),
        sa.Column("ocid", sa.String(length=80), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column("source_seq", sa.BigInteger(), nullable=False, comment="the audit event it was derived from"),
        sa.Column("tag", sa.String(length=40), nullable=False, comment="the OCDS release tag"),
        sa.Column(
            "date", archive.db.UTCDateTime(timezone=True), nullable=False, comment="the source event's instant (UTC)"
        ),
        sa.Column("body", sa.Text(), nullable=False, comment="the release, canonical JSON"),
        sa.Column("body_sm3", sa.String(length=64), nullable=False),
        sa.Column(
            "published_at",
            archive.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="when the sweep stored it (UTC)",
        ),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_ocds_release_tender_id_tender")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ocds_release")),
        sa.UniqueConstraint("release_id", name=op.f("uq_ocds_release_release_id")),
        sa.UniqueConstraint("source_seq", name=op.f("uq_ocds_release_source_seq")),
    )
    op.create_index(op.f("ix_ocds_release_date"), "ocds_release", ["date"], unique=False)
    op.create_index("ix_ocds_release_ocid_source_seq", "ocds_release", ["ocid", "source_seq"], unique=False)
    op.create_index(op.f("ix_ocds_release_published_at"), "ocds_release", ["published_at"], unique=False)
    op.create_index(op.f("ix_ocds_release_tender_id"), "ocds_release", ["tender_id"], unique=False)
    op.bulk_insert(cursor, [{"id": 1, "last_seq": 0}])


def downgrade() -> None:
    op.drop_index(op.f("ix_ocds_release_tender_id"), table_name="ocds_release")
    op.drop_index(op.f("ix_ocds_release_published_at"), table_name="ocds_release")
    op.drop_index("ix_ocds_release_ocid_source_seq", table_name="ocds_release")
    op.drop_index(op.f("ix_ocds_release_date"), table_name="ocds_release")
    op.drop_table("ocds_release")
    op.drop_table("ocds_held")
    op.drop_table("ocds_cursor")
    op.drop_index(op.f("ix_ocds_bulk_day"), table_name="ocds_bulk")
    op.drop_table("ocds_bulk")
