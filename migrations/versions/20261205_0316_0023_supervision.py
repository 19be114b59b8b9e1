"""supervision: rules and clocks (with the audit log's read cursor), complaints, lot facts; lot suspension

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 03:16:50.615903+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import archive.db

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    cursor = op.create_table(
        "supervision_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_supervision_cursor_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_cursor")),
    )
    op.create_table(
        "supervision_lot_fact",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "source",
            sa.Enum("trail", "generated", name="factsource", native_enum=False, create_constraint=True, length=10),
            nullable=False,
        ),
        sa.Column(
            "lot_key",
            sa.String(length=60),
            nullable=False,
            comment="tender code and lot number, e.g. GGZY-2026-000001/1",
        ),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("procedure_code", sa.String(length=40), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column("announced_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("concluded_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=12), nullable=False, comment="awarded, failed, terminated"),
        sa.Column("budget", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("award_amount", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("bids", sa.Integer(), nullable=True, comment="bids read out at the opening"),
        sa.Column("fact_seq", sa.BigInteger(), nullable=True, comment="its stats.lot_fact audit event"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_lot_fact")),
        sa.UniqueConstraint("source", "lot_key", name="uq_supervision_lot_fact_key"),
    )
    with op.batch_alter_table("supervision_lot_fact", schema=None) as batch_op:
        batch_op.create_index("ix_supervision_lot_fact_announced_at", ["announced_at"], unique=False)

    op.create_table(
        "supervision_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False, comment="stable name, e.g. objection_answer"),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column(
            "source",
            sa.String(length=200),
            nullable=False,
            comment="the law and article, e.g. 招标投标法实施条例第五十四条",
        ),
        sa.Column("source_text", sa.Text(), nullable=False, comment="the article's words the limit comes from"),
        sa.Column(
            "start_action", sa.String(length=64), nullable=False, comment="the audit action that starts the clock"
        ),
        sa.Column(
            "stop_actions", sa.String(length=300), nullable=False, comment="audit actions that stop it, space-separated"
        ),
        sa.Column(
            "subject", sa.String(length=20), nullable=False, comment="how a stop event finds its start: object, lot, …"
        ),
        sa.Column("limit_value", sa.Integer(), nullable=False),
        sa.Column(
            "limit_unit",
            sa.Enum(
                "calendar", "working", "hours", name="limitunit", native_enum=False, create_constraint=True, length=10
            ),
            nullable=False,
        ),
        sa.Column("yellow_value", sa.Integer(), nullable=False, comment="yellow this many units before the limit"),
        sa.Column(
            "warned",
            sa.String(length=200),
            nullable=False,
            comment="who is told of a change of colour, space-separated",
        ),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("effective_from", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("changed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("change_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("limit_value > 0 AND yellow_value >= 0", name=op.f("ck_supervision_rule_positive_limit")),
        sa.ForeignKeyConstraint(
            ["changed_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_supervision_rule_changed_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_rule")),
        sa.UniqueConstraint("code", "version", name="uq_supervision_rule_version"),
    )
    op.create_table(
        "complaint",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False, comment="public number, e.g. TS-2026-000001"),
        sa.Column(
            "kind",
            sa.Enum(
                "construction",
                "procurement",
                name="complaintkind",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "matter", sa.String(length=20), nullable=False, comment="documents, opening, evaluation_result, other"
        ),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("complainant_org_id", sa.Integer(), nullable=False),
        sa.Column("complainant_user_id", sa.Integer(), nullable=False),
        sa.Column("objection_ref", sa.String(length=60), nullable=True, comment="the prior 异议/质疑 it follows"),
        sa.Column("grounds", sa.Text(), nullable=False, comment="投诉事项、事实依据和法律依据"),
        sa.Column("requests", sa.Text(), nullable=False, comment="投诉请求"),
        sa.Column("statement", sa.Text(), nullable=False, comment="the complainant's SM2-signed statement (JSON)"),
        sa.Column(
            "state",
            sa.Enum(
                "filed",
                "accepted",
                "refused",
                "decided",
                "withdrawn",
                name="complaintstate",
                native_enum=False,
                create_constraint=True,
                length=12,
            ),
            nullable=False,
        ),
        sa.Column("filed_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refused_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refusal_reason", sa.Text(), nullable=True),
        sa.Column(
            "suspended_at",
            archive.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="the procedure is suspended by it since",
        ),
        sa.Column("resumed_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "finding",
            sa.Enum(
                "upheld", "partly", "dismissed", name="finding", native_enum=False, create_constraint=True, length=12
            ),
            nullable=True,
        ),
        sa.Column("decision", sa.Text(), nullable=True, comment="the reasons of the decision"),
        sa.Column("measures", sa.Text(), nullable=True, comment="the measures ordered (责令改正、重新评标…)"),
        sa.Column("handler_user_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state <> 'decided' OR finding IS NOT NULL", name=op.f("ck_complaint_decided_has_finding")),
        sa.ForeignKeyConstraint(
            ["complainant_org_id"], ["organisation.id"], name=op.f("fk_complaint_complainant_org_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["complainant_user_id"], ["user_account.id"], name=op.f("fk_complaint_complainant_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["handler_user_id"], ["user_account.id"], name=op.f("fk_complaint_handler_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_complaint_lot_id_lot")),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_complaint_tender_id_tender")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint")),
        sa.UniqueConstraint("number", name=op.f("uq_complaint_number")),
    )
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.create_index("ix_complaint_state", ["state"], unique=False)
        batch_op.create_index(batch_op.f("ix_complaint_tender_id"), ["tender_id"], unique=False)

    op.create_table(
        "complaint_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False, comment="evidence, statement, acceptance, decision, …"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("object_key", sa.String(length=200), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True, comment="the platform's signed statement over it"),
        sa.Column("org_id", sa.Integer(), nullable=True),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaint.id"],
            name=op.f("fk_complaint_file_complaint_id_complaint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_complaint_file_org_id_organisation")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_file")),
    )
    with op.batch_alter_table("complaint_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_file_complaint_id"), ["complaint_id"], unique=False)

    op.create_table(
        "complaint_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("asked_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by_user_id", sa.Integer(), nullable=True),
        sa.Column("answered_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_complaint_statement_answered_by_user_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaint.id"],
            name=op.f("fk_complaint_statement_complaint_id_complaint"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_complaint_statement_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_statement")),
    )
    with op.batch_alter_table("complaint_statement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_complaint_statement_complaint_id"), ["complaint_id"], unique=False)

    op.create_table(
        "supervision_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("rule_code", sa.String(length=40), nullable=False),
        sa.Column(
            "subject_key", sa.String(length=80), nullable=False, comment="what pairs start and stop, e.g. lot:12"
        ),
        sa.Column("tender_id", sa.Integer(), nullable=True),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("complaint_id", sa.Integer(), nullable=True),
        sa.Column("started_seq", sa.BigInteger(), nullable=False),
        sa.Column("started_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("yellow_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "paused_since",
            archive.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="the procedure is suspended (暂停) since",
        ),
        sa.Column("paused_seconds", sa.BigInteger(), nullable=False, comment="suspended time already added"),
        sa.Column("stopped_seq", sa.BigInteger(), nullable=True),
        sa.Column("stopped_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "colour",
            sa.Enum("green", "yellow", "red", name="colour", native_enum=False, create_constraint=True, length=10),
            nullable=False,
        ),
        sa.Column(
            "worst",
            sa.Enum("green", "yellow", "red", name="colour", native_enum=False, create_constraint=False, length=10),
            nullable=False,
            comment="红灯追责: stays",
        ),
        sa.Column(
            "next_check_at",
            archive.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="when its colour can next change; null: never",
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaint.id"],
            name=op.f("fk_supervision_clock_complaint_id_complaint"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lot.id"], name=op.f("fk_supervision_clock_lot_id_lot"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["supervision_rule.id"], name=op.f("fk_supervision_clock_rule_id_supervision_rule")
        ),
        sa.ForeignKeyConstraint(
            ["tender_id"], ["tender.id"], name=op.f("fk_supervision_clock_tender_id_tender"), ondelete="SET NULL"
        ),
        sa.CheckConstraint("worst IN ('green', 'yellow', 'red')", name=op.f("ck_supervision_clock_known_worst")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supervision_clock")),
        sa.UniqueConstraint("rule_code", "subject_key", "started_seq", name="uq_supervision_clock_start"),
    )
    with op.batch_alter_table("supervision_clock", schema=None) as batch_op:
        batch_op.create_index("ix_supervision_clock_lot_id", ["lot_id"], unique=False)
        batch_op.create_index("ix_supervision_clock_next_check_at", ["next_check_at"], unique=False)
        batch_op.create_index(
            "ix_supervision_clock_open_subject", ["rule_code", "subject_key", "stopped_seq"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_supervision_clock_tender_id"), ["tender_id"], unique=False)

    with op.batch_alter_table("lot", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "suspended_at",
                archive.db.UTCDateTime(timezone=True),
                nullable=True,
                comment="暂停: the supervising department suspended the procedure (实施条例第六十二条) since",
            )
        )
        batch_op.add_column(sa.Column("suspension_reason", sa.Text(), nullable=True))
    op.bulk_insert(cursor, [{"id": 1, "seq": 0}])


def downgrade() -> None:
    with op.batch_alter_table("lot", schema=None) as batch_op:
        batch_op.drop_column("suspension_reason")
        batch_op.drop_column("suspended_at")

    with op.batch_alter_table("supervision_clock", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_supervision_clock_tender_id"))
        batch_op.drop_index("ix_supervision_clock_open_subject")
        batch_op.drop_index("ix_supervision_clock_next_check_at")
        batch_op.drop_index("ix_supervision_clock_lot_id")

    op.drop_table("supervision_clock")
    with op.batch_alter_table("complaint_statement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_statement_complaint_id"))

    op.drop_table("complaint_statement")
    with op.batch_alter_table("complaint_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_file_complaint_id"))

    op.drop_table("complaint_file")
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_complaint_tender_id"))
        batch_op.drop_index("ix_complaint_state")

    op.drop_table("complaint")
    op.drop_table("supervision_rule")
    with op.batch_alter_table("supervision_lot_fact", schema=None) as batch_op:
        batch_op.drop_index("ix_supervision_lot_fact_announced_at")

    op.drop_table("supervision_lot_fact")
    op.drop_table("supervision_cursor")
