"""The credit stage's tables (信用): the register of credit entries, the imports that filled it, the
platform-signed checks that registrations and evaluations made against it, and the entries the
platform's own trace proposes for staff to confirm or dismiss.

An entry names its subject (an organisation by 统一社会信用代码, or a pool expert by the platform's
expert number), the list it comes from, the measure and its scope (region, trade category), the
period, the deciding authority and its document number. Entries are never edited or deleted: a
revocation is a time and a reason on the row, and every change is an audit event.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base, enum_column


class CreditList(StrEnum):
    """Where an entry comes from."""

    DISHONEST_DEBTORS = "dishonest_debtors"  # 失信被执行人 (最高人民法院)
    TAX_VIOLATORS = "tax_violators"  # 重大税收违法失信主体 (税务总局)
    PROCUREMENT_VIOLATORS = "procurement_violators"  # 政府采购严重违法失信行为记录 (财政部)
    PLATFORM = "platform"  # the platform's own (confirmed proposals, expert ratings)
    LOCAL = "local"  # a local list (地方信用平台)

    @property
    def label(self) -> str:
        return LIST_LABELS[self]


LIST_LABELS = {
    CreditList.DISHONEST_DEBTORS: "失信被执行人",
    CreditList.TAX_VIOLATORS: "重大税收违法失信主体",
    CreditList.PROCUREMENT_VIOLATORS: "政府采购严重违法失信行为记录",
    CreditList.PLATFORM: "本平台信用记录",
    CreditList.LOCAL: "地方信用名单",
}


class SubjectKind(StrEnum):
    ORGANISATION = "organisation"  # subject_id: 统一社会信用代码
    EXPERT = "expert"  # subject_id: the platform's expert number

    @property
    def label(self) -> str:
        return {"organisation": "单位", "expert": "评标专家"}[self.value]


class Measure(StrEnum):
    """What an entry does while it holds (its scope narrows where)."""

    BAR_BIDDING = "bar_bidding"  # 限制参与投标（竞买）
    NOTICE = "notice"  # 提示: shown to the committee, bars nothing
    DRAW_SUSPENSION = "draw_suspension"  # 暂停评标专家抽取 (experts)

    @property
    def label(self) -> str:
        return MEASURE_LABELS[self]


MEASURE_LABELS = {
    Measure.BAR_BIDDING: "限制参与投标",
    Measure.NOTICE: "信用提示",
    Measure.DRAW_SUSPENSION: "暂停专家抽取",
}


class CreditEntry(Base):
    __tablename__ = "credit_entry"
    __table_args__ = (
        Index("ix_credit_entry_subject", "subject_kind", "subject_id"),
        UniqueConstraint("source", "source_ref", name="uq_credit_entry_source_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_kind: Mapped[SubjectKind] = mapped_column(enum_column(SubjectKind, 20, checked=False))
    subject_id: Mapped[str] = mapped_column(String(18), comment="统一社会信用代码, or the expert number")
    subject_name: Mapped[str] = mapped_column(String(200))
    list_kind: Mapped[CreditList] = mapped_column(enum_column(CreditList, 30, checked=False))
    measure: Mapped[Measure] = mapped_column(enum_column(Measure, 20, checked=False))
    region: Mapped[str] = mapped_column(String(6), comment="行政区划代码; 000000 nationwide, 110000 a province")
    category: Mapped[str | None] = mapped_column(String(20), comment="a trade category, or NULL: every one")
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date | None] = mapped_column(Date, comment="last day it holds (inclusive); NULL: no end")
    authority: Mapped[str] = mapped_column(String(200), comment="决定机关")
    document_no: Mapped[str] = mapped_column(String(100), comment="决定文书号")
    facts: Mapped[str] = mapped_column(Text, default="", comment="失信行为 as the list states it")
    source: Mapped[str] = mapped_column(
        String(40), comment="the feed: the list kind for imports and pushes; proposal or rating for the platform's"
    )
    source_ref: Mapped[str] = mapped_column(String(100), comment="the feed's own record id (re-imports are no-ops)")
    import_id: Mapped[int | None] = mapped_column(ForeignKey("credit_import.id"))
    created_at: Mapped[dt.datetime]
    created_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[dt.datetime | None]
    revoked_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    revoke_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("credit_entry", str(self.id))


class CreditImport(Base):
    """One file or push of entries, applied whole or not at all."""

    __tablename__ = "credit_import"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(10), comment="file | api")
    file_name: Mapped[str] = mapped_column(String(200))
    file_sm3: Mapped[str] = mapped_column(String(64))
    rows: Mapped[int] = mapped_column(Integer)
    added: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer, comment="rows already in the register (same source_ref)")
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("credit_import", str(self.id))


class CheckPurpose(StrEnum):
    REGISTRATION = "registration"  # 报名
    EVALUATION = "evaluation"  # 评标 (财库〔2016〕125号: the result at evaluation time counts)
    DRAW = "draw"  # an expert draw's pool

    @property
    def label(self) -> str:
        return {"registration": "报名时查询", "evaluation": "评标时查询", "draw": "专家抽取时查询"}[self.value]


class CreditCheck(Base):
    """A platform-signed snapshot of what the register said about one subject for one scope."""

    __tablename__ = "credit_check"
    __table_args__ = (Index("ix_credit_check_tender", "tender_code", "purpose"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[CheckPurpose] = mapped_column(enum_column(CheckPurpose, 20, checked=False))
    subject_kind: Mapped[SubjectKind] = mapped_column(enum_column(SubjectKind, 20, checked=False))
    subject_id: Mapped[str] = mapped_column(String(18))
    tender_code: Mapped[str] = mapped_column(String(32))
    lot_number: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str] = mapped_column(String(6))
    category: Mapped[str] = mapped_column(String(20))
    on: Mapped[dt.date] = mapped_column(Date, comment="the day the scope is checked for")
    barred: Mapped[bool]
    found: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="the entries that applied, as signed")
    checked_at: Mapped[dt.datetime]
    statement: Mapped[str] = mapped_column(Text, comment="platform-signed snapshot (canonical JSON)")
    statement_sm3: Mapped[str] = mapped_column(String(64))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("credit_check", str(self.id))


class ProposalKind(StrEnum):
    """What in the trace suggests an entry (domain.md: nothing is sanctioned automatically)."""

    NOT_DECRYPTED = "not_decrypted"  # 撤销 at the opening: the bidder did not decrypt its bid
    WITHDRAWN_CLAIMED = "withdrawn_claimed"  # withdrew after the deadline; the guarantee was claimed
    CONTRACT_REFUSED = "contract_refused"  # the winner refused to sign the contract
    BAD_FAITH_COMPLAINT = "bad_faith_complaint"  # a complaint found 不属实, filed in bad faith
    RECUSAL_FAILURE = "recusal_failure"  # an expert who should have recused did not

    @property
    def label(self) -> str:
        return PROPOSAL_LABELS[self]


PROPOSAL_LABELS = {
    ProposalKind.NOT_DECRYPTED: "开标时未解密（撤销）",
    ProposalKind.WITHDRAWN_CLAIMED: "截止后撤回且保证金被索赔",
    ProposalKind.CONTRACT_REFUSED: "中标后拒签合同",
    ProposalKind.BAD_FAITH_COMPLAINT: "恶意投诉（投诉不属实）",
    ProposalKind.RECUSAL_FAILURE: "专家应回避未回避",
}


class ProposalState(StrEnum):
    PROPOSED = "proposed"
    CONFIRMED = "confirmed"
    DISMISSED = "dismissed"

    @property
    def label(self) -> str:
        return {"proposed": "待确认", "confirmed": "已确认", "dismissed": "已驳回"}[self.value]


class CreditProposal(Base):
    __tablename__ = "credit_proposal"
    __table_args__ = (UniqueConstraint("kind", "evidence_key", name="uq_credit_proposal_evidence"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[ProposalKind] = mapped_column(enum_column(ProposalKind, 30, checked=False))
    subject_kind: Mapped[SubjectKind] = mapped_column(enum_column(SubjectKind, 20, checked=False))
    subject_id: Mapped[str] = mapped_column(String(18))
    subject_name: Mapped[str] = mapped_column(String(200))
    tender_code: Mapped[str | None] = mapped_column(String(32))
    evidence_key: Mapped[str] = mapped_column(String(100), comment="what makes it one proposal (idempotent sweep)")
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="audit events: {seq, type, sm3}")
    state: Mapped[ProposalState] = mapped_column(enum_column(ProposalState, 20, checked=False))
    proposed_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("credit_entry.id"))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("credit_proposal", str(self.id))


class ProposalCursor(Base):
    """How far the proposal sweep has read the audit log."""

    __tablename__ = "credit_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
