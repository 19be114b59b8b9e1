"""Tenders (招标项目), lots (标段), announcements (公告) and their lifecycles.

Each lifecycle enum is stored by value, the database checks what each state implies, and each
tender's and lot's status is written only by ``lifecycle.py`` (``move_tender``, ``move_lot``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from trading.accounts.models import Organisation, Role, User
from trading.core.db import Base, enum_column


class TenderCategory(StrEnum):
    CONSTRUCTION = "construction"
    GOODS = "goods"
    SERVICES = "services"
    LAND_USE = "land_use"
    MINING = "mining"
    STATE_PROPERTY = "state_property"
    EMISSION = "emission"

    @property
    def label(self) -> str:
        return CATEGORY_LABELS[self]

    @property
    def government_procurement(self) -> bool:
        """政府采购 (goods and services), where GP87 and the Ministry of Finance's rules apply."""
        return self in (TenderCategory.GOODS, TenderCategory.SERVICES)


CATEGORY_LABELS = {
    TenderCategory.CONSTRUCTION: "工程建设",
    TenderCategory.GOODS: "政府采购（货物）",
    TenderCategory.SERVICES: "政府采购（服务）",
    TenderCategory.LAND_USE: "土地使用权",
    TenderCategory.MINING: "矿业权",
    TenderCategory.STATE_PROPERTY: "国有产权",
    TenderCategory.EMISSION: "排污权",
}


class TenderState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PUBLISHED = "published"
    BIDDING_CLOSED = "bidding_closed"
    SUSPENDED = "suspended"
    TERMINATED = "terminated"

    @property
    def label(self) -> str:
        return STATE_LABELS[self]


STATE_LABELS = {
    TenderState.DRAFT: "草稿",
    TenderState.SUBMITTED: "待审核",
    TenderState.PUBLISHED: "招标中",
    TenderState.BIDDING_CLOSED: "投标已截止",
    TenderState.SUSPENDED: "暂停",
    TenderState.TERMINATED: "已终止",
}
EDITABLE = frozenset({TenderState.DRAFT})
PUBLIC_STATES = frozenset(
    {TenderState.PUBLISHED, TenderState.BIDDING_CLOSED, TenderState.SUSPENDED, TenderState.TERMINATED}
)


class EvaluationMethod(StrEnum):
    COMPREHENSIVE = "comprehensive"  # 综合评分法
    LOWEST_PRICE = "lowest_price"  # 经评审的最低投标价法 / 最低评标价法


class Tender(Base):
    __tablename__ = "tender"
    __table_args__ = (
        # a tender terminated before publication never issued its documents
        CheckConstraint(
            "status IN ('draft', 'submitted') OR docs_issued_at IS NOT NULL OR (status = 'terminated')",
            name="issued_when_public",
        ),
        CheckConstraint("bid_validity_days BETWEEN 30 AND 365", name="bid_validity_range"),
        Index("ix_tender_status_category_region", "status", "category", "region"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True, comment="public number, e.g. GGZY-2026-000012")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    category: Mapped[TenderCategory] = mapped_column(enum_column(TenderCategory))
    procedure_code: Mapped[str] = mapped_column(ForeignKey("procedure_type.code"))
    tenderee_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    agency_org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    region: Mapped[str] = mapped_column(String(6))
    status: Mapped[TenderState] = mapped_column(enum_column(TenderState))
    bid_deadline: Mapped[dt.datetime] = mapped_column(comment="投标截止 = 开标 (Law 34), UTC")
    bid_validity_days: Mapped[int] = mapped_column(Integer, default=90)
    joint_opening: Mapped[bool] = mapped_column(
        default=False, comment="多标段合并开标: the lots' ceremonies share one room and move together"
    )
    docs_issued_at: Mapped[dt.datetime | None] = mapped_column(comment="招标文件开始发出 (set at publication)")
    return_reason: Mapped[str | None] = mapped_column(Text)
    status_reason: Mapped[str | None] = mapped_column(Text, comment="why suspended or terminated")
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]

    lots: Mapped[list[Lot]] = relationship(back_populates="tender", order_by="Lot.number", cascade="all, delete-orphan")
    announcements: Mapped[list[Announcement]] = relationship(back_populates="tender", order_by="Announcement.id")
    tenderee: Mapped[Organisation] = relationship(foreign_keys=[tenderee_org_id])
    agency: Mapped[Organisation | None] = relationship(foreign_keys=[agency_org_id])

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("tender", str(self.id))

    @property
    def is_public(self) -> bool:
        """Published once (its documents issued) and not withdrawn from view: a tender terminated
        before publication stays as private as its draft was."""
        return self.status in PUBLIC_STATES and self.docs_issued_at is not None

    def can_manage(self, user: User | None) -> bool:
        """The tenderee's or the appointed agency's own users (招标人 / 招标代理机构)."""
        if user is None or user.organisation_id is None:
            return False
        if Role.TENDEREE in user.roles and user.organisation_id == self.tenderee_org_id:
            return True
        return Role.AGENCY in user.roles and user.organisation_id == self.agency_org_id

    def deadline_passed(self, now: dt.datetime) -> bool:
        """Whether the bid deadline has passed at ``now``. 招标投标法第三十四条: the opening takes
        place at the very instant of the deadline, so the deadline instant itself is closed: a
        bid completed at that instant is late. For uploads ``now`` is the clock read inside the
        completing transaction, under the tender's row lock (docs/decisions.md, "Bid upload protocol")."""
        return now >= self.bid_deadline

    @classmethod
    def deadline_passed_by(cls, now: dt.datetime) -> ColumnElement[bool]:
        """``deadline_passed`` as a SQL condition, for sweeps and listings."""
        return cls.bid_deadline <= now

    def accepts_bids_at(self, now: dt.datetime) -> bool:
        return self.status is TenderState.PUBLISHED and not self.deadline_passed(now)


class LotState(StrEnum):
    BIDDING = "bidding"  # until its opening begins at the deadline
    OPENING = "opening"  # 开标: the ceremony is under way
    EVALUATING = "evaluating"  # 评标: opened; the committee reviews
    PUBLICITY = "publicity"  # 公示: the candidates are publicised
    FAILED = "failed"  # 流标
    TERMINATED = "terminated"
    AWARDED = "awarded"  # 定标: the winner confirmed, result announced, notice issued

    @property
    def label(self) -> str:
        return LOT_LABELS[self]


LOT_LABELS = {
    LotState.BIDDING: "招标中",
    LotState.OPENING: "开标中",
    LotState.EVALUATING: "评标中",
    LotState.PUBLICITY: "公示中",
    LotState.FAILED: "流标",
    LotState.TERMINATED: "已终止",
    LotState.AWARDED: "已中标",
}


class Lot(Base):
    __tablename__ = "lot"
    __table_args__ = (
        UniqueConstraint("tender_id", "number", name="uq_lot_tender_id_number"),
        CheckConstraint("estimated_price > 0", name="estimate_positive"),
        CheckConstraint("bond_amount >= 0 AND bond_amount * 50 <= estimated_price", name="bond_at_most_2_percent"),
        CheckConstraint("committee_size >= 5 AND committee_size % 2 = 1", name="committee_odd_at_least_5"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    estimated_price: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    bond_amount: Mapped[Decimal] = mapped_column(Numeric(18, 2), comment="Reg 26: at most 2% of the estimate")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    region: Mapped[str] = mapped_column(String(6))
    evaluation_method: Mapped[EvaluationMethod] = mapped_column(enum_column(EvaluationMethod))
    criteria: Mapped[dict[str, Any]] = mapped_column(JSON, comment="scoring template")
    committee_size: Mapped[int] = mapped_column(Integer)
    specialties: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="[{code, count}] drawn from the pool")
    price_fields: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="declared fields of the price sheet")
    status: Mapped[LotState] = mapped_column(enum_column(LotState), default=LotState.BIDDING)
    guarantee_sealed: Mapped[bool] = mapped_column(
        default=False, comment="保函加密: guarantees name project and beneficiary by commitment until the opening"
    )
    suspended_at: Mapped[dt.datetime | None] = mapped_column(
        comment="暂停: the supervising department suspended the procedure (实施条例第六十二条) since"
    )
    suspension_reason: Mapped[str | None] = mapped_column(Text)

    tender: Mapped[Tender] = relationship(back_populates="lots")

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("lot", str(self.id))

    @property
    def drawn_seats(self) -> int:
        """The committee's experts drawn from the pool (the specialties' counts)."""
        return sum(int(s["count"]) for s in self.specialties)

    @property
    def representative_seats(self) -> int:
        """The rest of the committee: the tenderee's own representatives (Law 37: under a third)."""
        return max(self.committee_size - self.drawn_seats, 0)


class AnnouncementKind(StrEnum):
    TENDER = "tender"  # 招标公告
    AMENDMENT = "amendment"  # 变更/澄清公告
    FAILURE = "failure"  # 流标公告
    CANDIDATES = "candidates"  # 中标候选人公示
    RESULT = "result"  # 中标结果公告
    TERMINATION = "termination"  # 终止公告

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    AnnouncementKind.TENDER: "招标公告",
    AnnouncementKind.AMENDMENT: "变更/澄清公告",
    AnnouncementKind.FAILURE: "流标公告",
    AnnouncementKind.CANDIDATES: "中标候选人公示",
    AnnouncementKind.RESULT: "中标结果公告",
    AnnouncementKind.TERMINATION: "终止公告",
}


class AnnouncementState(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    PUBLISHED = "published"

    @property
    def label(self) -> str:
        return {"draft": "草稿", "submitted": "待审核", "returned": "已退回", "published": "已发布"}[self.value]


SearchTerms = JSON().with_variant(postgresql.ARRAY(String(40)), "postgresql")


class Announcement(Base):
    """Immutable once published: a change is a new announcement that points to the old one."""

    __tablename__ = "announcement"
    __table_args__ = (
        CheckConstraint(
            "(status = 'published') = (published_at IS NOT NULL AND content_sm3 IS NOT NULL)", name="published_sealed"
        ),
        Index("ix_announcement_status_published_at", "status", "published_at"),
        Index("ix_announcement_search_terms", "search_terms", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"))
    kind: Mapped[AnnouncementKind] = mapped_column(enum_column(AnnouncementKind))
    status: Mapped[AnnouncementState] = mapped_column(enum_column(AnnouncementState))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("announcement.id"))
    affects_bids: Mapped[bool] = mapped_column(Boolean, default=False, comment="may affect bid preparation")
    requested_deadline: Mapped[dt.datetime | None] = mapped_column(comment="an amendment's new deadline, if any")
    deadline_after: Mapped[dt.datetime | None] = mapped_column(comment="the deadline in force after publication")
    created_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime]
    submitted_at: Mapped[dt.datetime | None]
    reviewed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    review_reason: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[dt.datetime | None]
    content_sm3: Mapped[str | None] = mapped_column(String(64), comment="SM3 of the canonical published content")
    search_terms: Mapped[list[str] | None] = mapped_column(SearchTerms, comment="CJK bigrams and words (portal)")

    tender: Mapped[Tender] = relationship(back_populates="announcements")

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("announcement", str(self.id))


class TenderDocument(Base):
    """招标文件: stored content-addressed, its SM3 signed by the tenderee's registered key."""

    __tablename__ = "tender_document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"))
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcement.id"), comment="set for documents issued with an amendment"
    )
    name: Mapped[str] = mapped_column(String(200))
    object_key: Mapped[str] = mapped_column(String(80))
    sm3: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(Text, comment="base64 DER SM2 signature over the document statement")
    signer_cert_sm3: Mapped[str] = mapped_column(String(64))
    uploaded_by_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[dt.datetime]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("tender_document", str(self.id))


class Interest(Base):
    """A bidder's registration for a tender (报名). Secret until the opening (Law 22): only the
    bidder itself sees it; the audit trail holds a sealed event (``trading.tenders.sealed``)."""

    __tablename__ = "interest"
    __table_args__ = (UniqueConstraint("tender_id", "org_id", name="uq_interest_tender_id_org_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    nonce: Mapped[str] = mapped_column(String(32), comment="reveals the commitment after the opening")
    commitment: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    contact_name: Mapped[str] = mapped_column(String(50), default="", server_default="", comment="报名联系人")
    contact_phone: Mapped[str] = mapped_column(String(20), default="", server_default="")
    credit_check_id: Mapped[int | None] = mapped_column(
        ForeignKey("credit_check.id"), comment="the signed credit check the registration passed"
    )


class DocumentDownload(Base):
    __tablename__ = "document_download"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("tender_document.id"))
    interest_id: Mapped[int] = mapped_column(ForeignKey("interest.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime]


class Question(Base):
    """答疑: asked privately; the answer goes to every registered bidder without the asker's name."""

    __tablename__ = "question"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"))
    interest_id: Mapped[int] = mapped_column(ForeignKey("interest.id"))
    text: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[dt.datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None]
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("question", str(self.id))


class Notification(Base):
    """A message to an organisation (all its users see it on their home page)."""

    __tablename__ = "notification"
    __table_args__ = (Index("ix_notification_org_id_created_at", "org_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    tender_id: Mapped[int | None] = mapped_column(ForeignKey("tender.id"))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class SealedOpening(Base):
    """What opens one sealed audit event of a bidder's interest (registration, download, question,
    guarantee order): its nonce and facts, wrapped with the platform's key-encryption key (which
    the database does not hold) until the tender's deadline, then published (``sealed.reveal``)."""

    __tablename__ = "sealed_opening"

    commitment: Mapped[str] = mapped_column(String(64), primary_key=True, comment="SM3(nonce ‖ canonical facts)")
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), index=True)
    box: Mapped[bytes] = mapped_column(
        LargeBinary, comment="nonce and facts, SM4-GCM under the platform KEK (the commitment bound)"
    )
    created_at: Mapped[dt.datetime]
    revealed_at: Mapped[dt.datetime | None] = mapped_column(
        comment="published into the trail (sealed.reveal) after the deadline"
    )
