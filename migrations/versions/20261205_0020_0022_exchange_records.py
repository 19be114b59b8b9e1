"""exchange: the national data-exchange records and their push state, and the audit log's read cursor

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 00:20:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    cursor = op.create_table(
        "exchange_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_exchange_cursor_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_cursor")),
    )
    op.create_table(
        "exchange_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "table_name", sa.String(length=40), nullable=False, comment="the national table, e.g. WIN_BID_BULLETIN"
        ),
        sa.Column(
            "data_key", sa.String(length=160), nullable=False, comment="DATA_KEY: the row's identity in its table"
        ),
        sa.Column(
            "data_timestamp", sa.String(length=40), nullable=False, comment="DATA_TIMESTAMP: the source event's time"
        ),
        sa.Column("tender_code", sa.String(length=32), nullable=False),
        sa.Column("source_seq", sa.BigInteger(), nullable=False, comment="the audit event it was built from"),
        sa.Column("envelope", sa.Text(), nullable=False, comment="the signed envelope (JSON), sent byte for byte"),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, comment="failed pushes since the last success"),
        sa.Column(
            "next_attempt_at",
            archive.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="not pushed again before (back-off)",
        ),
        sa.Column("last_error", sa.String(length=400), nullable=True, comment="the receiver's code and message"),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("pushed_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("receipt", sa.Text(), nullable=True, comment="the receiver's answer to the accepted push"),
        sa.CheckConstraint(
            "state IN ('queued', 'pushed', 'failing', 'refused')", name=op.f("ck_exchange_record_known_state")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_record")),
        sa.UniqueConstraint("table_name", "data_key", "data_timestamp", name="uq_exchange_record_key"),
    )
    op.create_index(op.f("ix_exchange_record_source_seq"), "exchange_record", ["source_seq"], unique=False)
    op.create_index(
        "ix_exchange_record_state_next_attempt_at", "exchange_record", ["state", "next_attempt_at"], unique=False
    )
    op.create_index(op.f("ix_exchange_record_tender_code"), "exchange_record", ["tender_code"], unique=False)
    op.bulk_insert(cursor, [{"id": 1, "seq": 0}])


def downgrade() -> None:
    op.drop_index(op.f("ix_exchange_record_tender_code"), table_name="exchange_record")
    op.drop_index("ix_exchange_record_state_next_attempt_at", table_name="exchange_record")
    op.drop_index(op.f("ix_exchange_record_source_seq"), table_name="exchange_record")
    op.drop_table("exchange_record")
    op.drop_table("exchange_cursor")
