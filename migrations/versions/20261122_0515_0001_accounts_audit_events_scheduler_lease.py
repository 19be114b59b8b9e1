"""accounts, audit events, scheduler lease

Revision ID: 0001
Revises:
Create Date: 2026-11-22 05:15:06.900959+00:00
"""

import datetime
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_attempt")),
    )
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempt_ip_at", ["ip", "at"], unique=False)
        batch_op.create_index("ix_login_attempt_username_at", ["username", "at"], unique=False)

    op.create_table(
        "organisation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("credit_code", sa.String(length=18), nullable=False, comment="统一社会信用代码, GB 32100"),
        sa.Column(
            "kind",
            sa.Enum(
                "enterprise",
                "tenderee",
                "agency",
                "issuer",
                "trading_center",
                "supervision",
                "employer",
                name="orgkind",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("region", sa.String(length=6), nullable=False, comment="行政区划代码 (GB/T 2260)"),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("credit_code", name=op.f("uq_organisation_credit_code")),
    )
    op.create_table(
        "scheduler_lease",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False, comment="host:pid:random of the running scheduler"),
        sa.Column("expires_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_scheduler_lease_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_lease")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False, comment="argon2id"),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisation.id"], name=op.f("fk_user_account_organisation_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_table(
        "auth_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_sm3", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("web", "api", name="sessionkind", native_enum=False, length=10), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("expires_at > created_at", name=op.f("ck_auth_session_expires_after_created")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_auth_session_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_session")),
        sa.UniqueConstraint("token_sm3", name=op.f("uq_auth_session_token_sm3")),
    )
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.create_index("ix_auth_session_user", ["user_id"], unique=False)

    op.create_table(
        "user_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "bidder",
                "tenderee",
                "agency",
                "staff",
                "expert",
                "supervisor",
                "issuer",
                "admin",
                name="role",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_user_role_user_id_user_account"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_role")),
        sa.UniqueConstraint("user_id", "role", name="uq_user_role_user_id_role"),
    )
    op.create_table(
        "audit_event",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False, comment="1, 2, 3, … no gaps"),
        sa.Column(
            "at",
            archive.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="platform time (UTC) of the transaction",
        ),
        sa.Column("actor_id", sa.String(length=64), nullable=False),
        sa.Column("actor_role", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False, comment="verb.noun, e.g. tender.publish"),
        sa.Column("object_type", sa.String(length=32), nullable=False),
        sa.Column("object_id", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False, comment="canonical JSON"),
        sa.Column("payload_sm3", sa.LargeBinary(length=32), nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False, comment="SM3(0x00 ‖ canonical event)"),
        sa.Column(
            "chain_hash", sa.LargeBinary(length=32), nullable=False, comment="SM3(previous chain_hash ‖ leaf_hash)"
        ),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)

    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False, comment="seq of the last event, 0 when empty"),
        sa.Column("chain_hash", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_audit_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The head row exists from the start so that every append can lock it (no insert race).
    head = sa.table(
        "audit_head",
        sa.column("id", sa.Integer),
        sa.column("seq", sa.BigInteger),
        sa.column("chain_hash", sa.LargeBinary),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "chain_hash": bytes(32)}])
    # Seeded so that acquiring the lease is always an UPDATE of a locked row (no insert race).
    lease = sa.table(
        "scheduler_lease",
        sa.column("id", sa.Integer),
        sa.column("holder", sa.String),
        sa.column("expires_at", archive.db.UTCDateTime(timezone=True)),
        sa.column("acquired_at", archive.db.UTCDateTime(timezone=True)),
    )
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    op.bulk_insert(lease, [{"id": 1, "holder": "", "expires_at": epoch, "acquired_at": epoch}])


def downgrade() -> None:
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))

    op.drop_table("audit_event")
    op.drop_table("user_role")
    with op.batch_alter_table("auth_session", schema=None) as batch_op:
        batch_op.drop_index("ix_auth_session_user")

    op.drop_table("auth_session")
    op.drop_table("user_account")
    op.drop_table("scheduler_lease")
    op.drop_table("organisation")
    with op.batch_alter_table("login_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempt_username_at")
        batch_op.drop_index("ix_login_attempt_ip_at")

    op.drop_table("login_attempt")
