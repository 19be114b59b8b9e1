"""bids and bid uploads

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 06:06:53.440929+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bid",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "accepted",
                "superseded",
                "withdrawn",
                name="bidstate",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("object_key", sa.String(length=80), nullable=False),
        sa.Column("ciphertext_sm3", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("header_sm3", sa.String(length=64), nullable=False),
        sa.Column("signer_cert_sm3", sa.String(length=64), nullable=False),
        sa.Column(
            "received_at",
            archive.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="server time inside the accepting transaction",
        ),
        sa.Column("receipt", sa.Text(), nullable=False, comment="platform-signed statement (canonical JSON)"),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("withdrawn_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawal", sa.Text(), nullable=True, comment="the bidder's signed withdrawal (base64 DER)"),
        sa.CheckConstraint("status != 'withdrawn' OR withdrawn_at IS NOT NULL", name=op.f("ck_bid_withdrawn_has_time")),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_bid_lot_id_lot")),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_bid_org_id_organisation")),
        sa.ForeignKeyConstraint(["replaces_id"], ["bid.id"], name=op.f("fk_bid_replaces_id_bid")),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_bid_tender_id_tender")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_bid_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid")),
    )
    with op.batch_alter_table("bid", schema=None) as batch_op:
        batch_op.create_index(
            "uq_bid_live_per_lot",
            ["lot_id", "org_id"],
            unique=True,
            postgresql_where=sa.text("status = 'accepted'"),
            sqlite_where=sa.text("status = 'accepted'"),
        )

    op.create_table(
        "bid_upload",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "open",
                "completed",
                "abandoned",
                name="uploadstate",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("declared_size", sa.BigInteger(), nullable=False),
        sa.Column("part_size", sa.Integer(), nullable=False),
        sa.Column("head", sa.LargeBinary(), nullable=False, comment="prefix and header of the envelope"),
        sa.Column("received", sa.BigInteger(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("prefix_sm3", sa.String(length=64), nullable=False, comment="SM3 of the bytes received so far"),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_bid_upload_lot_id_lot")),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_bid_upload_org_id_organisation")),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_bid_upload_tender_id_tender")),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_bid_upload_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bid_upload")),
    )


def downgrade() -> None:
    op.drop_table("bid_upload")
    with op.batch_alter_table("bid", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_bid_live_per_lot",
            postgresql_where=sa.text("status = 'accepted'"),
            sqlite_where=sa.text("status = 'accepted'"),
        )

    op.drop_table("bid")
