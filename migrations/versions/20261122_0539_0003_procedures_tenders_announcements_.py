"""procedures, tenders, announcements, documents, certificates

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:39:21.306735+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import archive.db

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "holiday",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("is_workday", sa.Boolean(), nullable=False, comment="true: a weekend day that is worked (调休)"),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_holiday")),
    )
    op.create_table(
        "procedure_type",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column(
            "day_kind", sa.Enum("calendar", "working", name="daykind", native_enum=False, length=10), nullable=False
        ),
        sa.Column(
            "min_bid_days", sa.Integer(), nullable=False, comment="documents issued → bid deadline (Law 24: 20 days)"
        ),
        sa.Column(
            "amendment_lead_days", sa.Integer(), nullable=False, comment="amendment → deadline (Law 23: 15 days)"
        ),
        sa.Column(
            "amendment_policy",
            sa.Enum("extend", "refuse", name="amendmentpolicy", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("min_valid_bids", sa.Integer(), nullable=False, comment="fewer: no opening (Law 28, Reg 44)"),
        sa.Column("publicity_days", sa.Integer(), nullable=False, comment="candidate publicity (Reg 54: 3 days)"),
        sa.Column("decryption_window_minutes", sa.Integer(), nullable=False),
        sa.Column("archive_retention_years", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False, comment="the rules these numbers come from"),
        sa.CheckConstraint(
            "min_bid_days >= 0 AND amendment_lead_days >= 0", name=op.f("ck_procedure_type_non_negative_days")
        ),
        sa.CheckConstraint("min_valid_bids >= 1", name=op.f("ck_procedure_type_min_valid_bids_positive")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_procedure_type")),
    )
    op.create_table(
        "tender",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False, comment="public number, e.g. GGZY-2026-000012"),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "construction",
                "goods",
                "services",
                "land_use",
                "mining",
                "state_property",
                "emission",
                name="tendercategory",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("procedure_code", sa.String(length=40), nullable=False),
        sa.Column("tenderee_org_id", sa.Integer(), nullable=False),
        sa.Column("agency_org_id", sa.Integer(), nullable=True),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "published",
                "bidding_closed",
                "suspended",
                "terminated",
                name="tenderstate",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "bid_deadline",
            archive.db.UTCDateTime(timezone=True),
            nullable=False,
            comment="投标截止 = 开标 (Law 34), UTC",
        ),
        sa.Column("bid_validity_days", sa.Integer(), nullable=False),
        sa.Column(
            "docs_issued_at",
            archive.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="招标文件开始发出 (set at publication)",
        ),
        sa.Column("return_reason", sa.Text(), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True, comment="why suspended or terminated"),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("closed_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted') OR docs_issued_at IS NOT NULL", name=op.f("ck_tender_issued_when_public")
        ),
        sa.CheckConstraint("bid_validity_days BETWEEN 30 AND 365", name=op.f("ck_tender_bid_validity_range")),
        sa.ForeignKeyConstraint(
            ["agency_org_id"], ["organisation.id"], name=op.f("fk_tender_agency_org_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["user_account.id"], name=op.f("fk_tender_created_by_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["procedure_code"], ["procedure_type.code"], name=op.f("fk_tender_procedure_code_procedure_type")
        ),
        sa.ForeignKeyConstraint(
            ["tenderee_org_id"], ["organisation.id"], name=op.f("fk_tender_tenderee_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tender")),
        sa.UniqueConstraint("code", name=op.f("uq_tender_code")),
    )
    with op.batch_alter_table("tender", schema=None) as batch_op:
        batch_op.create_index("ix_tender_status_category_region", ["status", "category", "region"], unique=False)

    op.create_table(
        "user_certificate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("usage", sa.String(length=10), nullable=False, comment="sign or encrypt"),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("not_after", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("registered_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("replaced_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_user_certificate_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_certificate")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_user_certificate_fingerprint")),
    )
    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "tender",
                "amendment",
                "failure",
                "candidates",
                "result",
                "termination",
                name="announcementkind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "submitted",
                "returned",
                "published",
                name="announcementstate",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("affects_bids", sa.Boolean(), nullable=False, comment="may affect bid preparation"),
        sa.Column(
            "requested_deadline",
            archive.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="an amendment's new deadline, if any",
        ),
        sa.Column(
            "deadline_after",
            archive.db.UTCDateTime(timezone=True),
            nullable=True,
            comment="the deadline in force after publication",
        ),
        sa.Column("created_by_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("published_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("content_sm3", sa.String(length=64), nullable=True, comment="SM3 of the canonical published content"),
        sa.Column(
            "search_terms",
            sa.JSON().with_variant(postgresql.ARRAY(sa.String(length=40)), "postgresql"),
            nullable=True,
            comment="CJK bigrams and words (portal)",
        ),
        sa.CheckConstraint(
            "(status = 'published') = (published_at IS NOT NULL AND content_sm3 IS NOT NULL)",
            name=op.f("ck_announcement_published_sealed"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"], ["user_account.id"], name=op.f("fk_announcement_created_by_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_user_id"], ["user_account.id"], name=op.f("fk_announcement_reviewed_by_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["announcement.id"], name=op.f("fk_announcement_supersedes_id_announcement")
        ),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_announcement_tender_id_tender")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement")),
    )
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.create_index("ix_announcement_search_terms", ["search_terms"], unique=False, postgresql_using="gin")
        batch_op.create_index("ix_announcement_status_published_at", ["status", "published_at"], unique=False)

    op.create_table(
        "interest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False, comment="reveals the commitment after the opening"),
        sa.Column("commitment", sa.String(length=64), nullable=False),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_interest_org_id_organisation")),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_interest_tender_id_tender")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interest")),
        sa.UniqueConstraint("tender_id", "org_id", name="uq_interest_tender_id_org_id"),
    )
    op.create_table(
        "lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("estimated_price", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column(
            "bond_amount",
            sa.Numeric(precision=18, scale=2),
            nullable=False,
            comment="Reg 26: at most 2% of the estimate",
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("region", sa.String(length=6), nullable=False),
        sa.Column(
            "evaluation_method",
            sa.Enum(
                "comprehensive",
                "lowest_price",
                name="evaluationmethod",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("criteria", sa.JSON(), nullable=False, comment="scoring template"),
        sa.Column("committee_size", sa.Integer(), nullable=False),
        sa.Column("specialties", sa.JSON(), nullable=False, comment="[{code, count}] drawn from the pool"),
        sa.Column("price_fields", sa.JSON(), nullable=False, comment="declared fields of the price sheet"),
        sa.CheckConstraint(
            "bond_amount >= 0 AND bond_amount * 50 <= estimated_price", name=op.f("ck_lot_bond_at_most_2_percent")
        ),
        sa.CheckConstraint(
            "committee_size >= 5 AND committee_size % 2 = 1", name=op.f("ck_lot_committee_odd_at_least_5")
        ),
        sa.CheckConstraint("estimated_price > 0", name=op.f("ck_lot_estimate_positive")),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_lot_tender_id_tender"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot")),
        sa.UniqueConstraint("tender_id", "number", name="uq_lot_tender_id_number"),
    )
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.Integer(), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("created_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name=op.f("fk_notification_org_id_organisation")),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_notification_tender_id_tender")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_org_id_created_at", ["org_id", "created_at"], unique=False)

    op.create_table(
        "question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column("interest_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("asked_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_at", archive.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("answered_by_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["answered_by_user_id"], ["user_account.id"], name=op.f("fk_question_answered_by_user_id_user_account")
        ),
        sa.ForeignKeyConstraint(["interest_id"], ["interest.id"], name=op.f("fk_question_interest_id_interest")),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_question_tender_id_tender")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_question")),
    )
    op.create_table(
        "tender_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tender_id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=True, comment="set for documents issued with an amendment"),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("object_key", sa.String(length=80), nullable=False),
        sa.Column("sm3", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column(
            "signature", sa.Text(), nullable=False, comment="base64 DER SM2 signature over the document statement"
        ),
        sa.Column("signer_cert_sm3", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by_user_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["announcement_id"], ["announcement.id"], name=op.f("fk_tender_document_announcement_id_announcement")
        ),
        sa.ForeignKeyConstraint(["tender_id"], ["tender.id"], name=op.f("fk_tender_document_tender_id_tender")),
        sa.ForeignKeyConstraint(
            ["uploaded_by_user_id"],
            ["user_account.id"],
            name=op.f("fk_tender_document_uploaded_by_user_id_user_account"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tender_document")),
    )
    op.create_table(
        "document_download",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("interest_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", archive.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["tender_document.id"], name=op.f("fk_document_download_document_id_tender_document")
        ),
        sa.ForeignKeyConstraint(
            ["interest_id"], ["interest.id"], name=op.f("fk_document_download_interest_id_interest")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_document_download_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_download")),
    )

    # Procedure types: the legal defaults, with their sources. Staff may change them later; a
    # row that says "platform default" has no number fixed by a rule we could cite.
    proc = sa.table(
        "procedure_type",
        *(
            sa.column(c)
            for c in (
                "code",
                "name",
                "day_kind",
                "min_bid_days",
                "amendment_lead_days",
                "amendment_policy",
                "min_valid_bids",
                "publicity_days",
                "decryption_window_minutes",
                "archive_retention_years",
                "source",
            )
        ),
    )
    law = "招标投标法第23、24、28条；实施条例第21、44、54条"
    op.bulk_insert(
        proc,
        [
            dict(
                code="construction_open",
                name="工程建设项目公开招标",
                day_kind="calendar",
                min_bid_days=20,
                amendment_lead_days=15,
                amendment_policy="extend",
                min_valid_bids=3,
                publicity_days=3,
                decryption_window_minutes=30,
                archive_retention_years=15,
                source=law,
            ),
            dict(
                code="construction_invited",
                name="工程建设项目邀请招标",
                day_kind="calendar",
                min_bid_days=20,
                amendment_lead_days=15,
                amendment_policy="extend",
                min_valid_bids=3,
                publicity_days=3,
                decryption_window_minutes=30,
                archive_retention_years=15,
                source=law,
            ),
            dict(
                code="gp_open",
                name="政府采购公开招标",
                day_kind="calendar",
                min_bid_days=20,
                amendment_lead_days=15,
                amendment_policy="extend",
                min_valid_bids=3,
                publicity_days=1,
                decryption_window_minutes=30,
                archive_retention_years=15,
                source="政府采购法第42条；财政部令第87号第16、27、69条（结果公告 1 个工作日）",
            ),
            dict(
                code="gp_negotiation",
                name="政府采购竞争性谈判",
                day_kind="working",
                min_bid_days=3,
                amendment_lead_days=3,
                amendment_policy="extend",
                min_valid_bids=3,
                publicity_days=1,
                decryption_window_minutes=30,
                archive_retention_years=15,
                source="政府采购非招标采购方式管理办法第29条（不少于3个工作日）",
            ),
            dict(
                code="land_listing",
                name="国有建设用地使用权挂牌出让",
                day_kind="calendar",
                min_bid_days=20,
                amendment_lead_days=20,
                amendment_policy="extend",
                min_valid_bids=1,
                publicity_days=3,
                decryption_window_minutes=30,
                archive_retention_years=15,
                source="国土资源部令第39号第10条（公告不少于20日）；其余为平台默认值",
            ),
            dict(
                code="mining_rights",
                name="矿业权出让",
                day_kind="calendar",
                min_bid_days=20,
                amendment_lead_days=20,
                amendment_policy="extend",
                min_valid_bids=1,
                publicity_days=3,
                decryption_window_minutes=30,
                archive_retention_years=15,
                source="平台默认值（参照招标拍卖挂牌规定）",
            ),
            dict(
                code="state_property",
                name="企业国有产权转让",
                day_kind="working",
                min_bid_days=20,
                amendment_lead_days=5,
                amendment_policy="extend",
                min_valid_bids=1,
                publicity_days=3,
                decryption_window_minutes=30,
                archive_retention_years=15,
                source="国资委 财政部令第32号第13条（信息披露不少于20个工作日）；其余为平台默认值",
            ),
            dict(
                code="emission_rights",
                name="排污权交易",
                day_kind="working",
                min_bid_days=10,
                amendment_lead_days=5,
                amendment_policy="extend",
                min_valid_bids=1,
                publicity_days=3,
                decryption_window_minutes=30,
                archive_retention_years=15,
                source="平台默认值",
            ),
        ],
    )


def downgrade() -> None:
    op.drop_table("document_download")
    op.drop_table("tender_document")
    op.drop_table("question")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_org_id_created_at")

    op.drop_table("notification")
    op.drop_table("lot")
    op.drop_table("interest")
    with op.batch_alter_table("announcement", schema=None) as batch_op:
        batch_op.drop_index("ix_announcement_status_published_at")
        batch_op.drop_index("ix_announcement_search_terms", postgresql_using="gin")

    op.drop_table("announcement")
    op.drop_table("user_certificate")
    with op.batch_alter_table("tender", schema=None) as batch_op:
        batch_op.drop_index("ix_tender_status_category_region")

    op.drop_table("tender")
    op.drop_table("procedure_type")
    op.drop_table("holiday")
