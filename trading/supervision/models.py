"""The supervision stage's tables (监督): time-limit rules as data and the clocks they run, complaints
(投诉) with their evidence, statement requests and signed documents, and the lot facts the statistics
are computed from.

A rule is kept in versions: editing it adds a version that applies to clocks started from then on.
A clock pairs the audit event that started it with the one that stopped it; its colour is
computed from the rule and the platform's calendar, and ``worst`` keeps a red light on the record
after the act is done late (红灯追责).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base, enum_column


class LimitUnit(StrEnum):
    CALENDAR_DAYS = "calendar"  # 日
    WORKING_DAYS = "working"  # 工作日 (the platform's holiday calendar, with 调休)
    HOURS = "hours"  # 小时

    @property
    def label(self) -> str:
        return {"calendar": "日", "working": "个工作日", "hours": "小时"}[self.value]


class Colour(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def label(self) -> str:
        return {"green": "绿灯（正常）", "yellow": "黄灯（预警）", "red": "红灯（超期）"}[self.value]

    @property
    def rank(self) -> int:
        return {"green": 0, "yellow": 1, "red": 2}[self.value]


class SupervisionRule(Base):
    """One version of a supervision point (监督点): what starts and stops its clock, the limit, when
    it turns yellow, and who is warned. A change is a new row; the newest version whose
    ``effective_from`` has passed applies to a clock started at that instant."""

    __tablename__ = "supervision_rule"
    __table_args__ = (
        UniqueConstraint("code", "version", name="uq_supervision_rule_version"),
        CheckConstraint("limit_value > 0 AND yellow_value >= 0", name="positive_limit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), comment="stable name, e.g. objection_answer")
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(200), comment="the law and article, e.g. 招标投标法实施条例第五十四条")
    source_text: Mapped[str] = mapped_column(Text, comment="the article's words the limit comes from")
    start_action: Mapped[str] = mapped_column(String(64), comment="the audit action that starts the clock")
    stop_actions: Mapped[str] = mapped_column(String(300), comment="audit actions that stop it, space-separated")
    subject: Mapped[str] = mapped_column(String(20), comment="how a stop event finds its start: object, lot, …")
    limit_value: Mapped[int] = mapped_column(Integer)
    limit_unit: Mapped[LimitUnit] = mapped_column(enum_column(LimitUnit, 10))
    yellow_value: Mapped[int] = mapped_column(Integer, comment="yellow this many units before the limit")
    warned: Mapped[str] = mapped_column(String(200), comment="who is told of a change of colour, space-separated")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    effective_from: Mapped[dt.datetime]
    changed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    change_reason: Mapped[str | None] = mapped_column(Text)

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("supervision_rule", str(self.id))


class SupervisionClock(Base):
    """One running (or stopped) time limit: started by an audit event, stopped by another."""

    __tablename__ = "supervision_clock"
    __table_args__ = (
        UniqueConstraint("rule_code", "subject_key", "started_seq", name="uq_supervision_clock_start"),
        Index("ix_supervision_clock_next_check_at", "next_check_at"),
        Index("ix_supervision_clock_open_subject", "rule_code", "subject_key", "stopped_seq"),
        Index("ix_supervision_clock_lot_id", "lot_id"),
        # a second column of the same enum would repeat the enum's constraint name
        CheckConstraint("worst IN ('green', 'yellow', 'red')", name="known_worst"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("supervision_rule.id"))
    rule_code: Mapped[str] = mapped_column(String(40))
    subject_key: Mapped[str] = mapped_column(String(80), comment="what pairs start and stop, e.g. lot:12")
    tender_id: Mapped[int | None] = mapped_column(ForeignKey("tender.id", ondelete="SET NULL"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id", ondelete="SET NULL"))
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaint.id", ondelete="SET NULL"))
    started_seq: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[dt.datetime]
    yellow_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    paused_since: Mapped[dt.datetime | None] = mapped_column(comment="the procedure is suspended (暂停) since")
    paused_seconds: Mapped[int] = mapped_column(BigInteger, default=0, comment="suspended time already added")
    stopped_seq: Mapped[int | None] = mapped_column(BigInteger)
    stopped_at: Mapped[dt.datetime | None]
    colour: Mapped[Colour] = mapped_column(enum_column(Colour, 10), default=Colour.GREEN)
    worst: Mapped[Colour] = mapped_column(
        enum_column(Colour, 10, checked=False), default=Colour.GREEN, comment="红灯追责: stays"
    )
    next_check_at: Mapped[dt.datetime | None] = mapped_column(comment="when its colour can next change; null: never")

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("supervision_clock", str(self.id))


class SupervisionCursor(Base):
    """The last audit event the clocks were started or stopped from."""

    __tablename__ = "supervision_cursor"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class ComplaintKind(StrEnum):
    CONSTRUCTION = "construction"  # 工程建设项目: 招标投标法实施条例第六十条至第六十二条, 七部委令第11号
    PROCUREMENT = "procurement"  # 政府采购: 财政部令第94号《政府采购质疑和投诉办法》

    @property
    def label(self) -> str:
        return {"construction": "工程建设项目投诉", "procurement": "政府采购投诉"}[self.value]


class ComplaintState(StrEnum):
    FILED = "filed"  # 已提交，待审查
    ACCEPTED = "accepted"  # 已受理
    REFUSED = "refused"  # 不予受理
    DECIDED = "decided"  # 已作出处理决定
    WITHDRAWN = "withdrawn"  # 投诉人撤回

    @property
    def label(self) -> str:
        return {
            "filed": "已提交，待审查",
            "accepted": "已受理",
            "refused": "不予受理",
            "decided": "已作出处理决定",
            "withdrawn": "已撤回",
        }[self.value]


class Finding(StrEnum):
    UPHELD = "upheld"  # 属实
    PARTLY = "partly"  # 部分属实
    DISMISSED = "dismissed"  # 不属实

    @property
    def label(self) -> str:
        return {"upheld": "属实", "partly": "部分属实", "dismissed": "不属实"}[self.value]


class Complaint(Base):
    """A complaint (投诉) to the supervising department about one tender (and lot), signed by the
    complainant with SM2. Its state has one owner: ``trading.supervision.complaints.move_complaint``."""

    __tablename__ = "complaint"
    __table_args__ = (
        CheckConstraint("state <> 'decided' OR finding IS NOT NULL", name="decided_has_finding"),
        Index("ix_complaint_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True, comment="public number, e.g. TS-2026-000001")
    kind: Mapped[ComplaintKind] = mapped_column(enum_column(ComplaintKind, 16))
    matter: Mapped[str] = mapped_column(String(20), comment="documents, opening, evaluation_result, other")
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    complainant_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    complainant_user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    objection_ref: Mapped[str | None] = mapped_column(String(60), comment="the prior 异议/质疑 it follows")
    grounds: Mapped[str] = mapped_column(Text, comment="投诉事项、事实依据和法律依据")
    requests: Mapped[str] = mapped_column(Text, comment="投诉请求")
    statement: Mapped[str] = mapped_column(Text, comment="the complainant's SM2-signed statement (JSON)")
    state: Mapped[ComplaintState] = mapped_column(enum_column(ComplaintState, 12))
    filed_at: Mapped[dt.datetime]
    accepted_at: Mapped[dt.datetime | None]
    refused_at: Mapped[dt.datetime | None]
    refusal_reason: Mapped[str | None] = mapped_column(Text)
    suspended_at: Mapped[dt.datetime | None] = mapped_column(comment="the procedure is suspended by it since")
    resumed_at: Mapped[dt.datetime | None]
    decided_at: Mapped[dt.datetime | None]
    finding: Mapped[Finding | None] = mapped_column(enum_column(Finding, 12))
    decision: Mapped[str | None] = mapped_column(Text, comment="the reasons of the decision")
    measures: Mapped[str | None] = mapped_column(Text, comment="the measures ordered (责令改正、重新评标…)")
    handler_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("complaint", str(self.id))


class ComplaintFile(Base):
    """A file of a complaint: the complainant's evidence, a party's statement attachment, or one of
    the supervisor's signed documents (受理通知书, 暂停通知, 处理决定书 …), stored by SM3."""

    __tablename__ = "complaint_file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(24), comment="evidence, statement, acceptance, decision, …")
    name: Mapped[str] = mapped_column(String(200))
    object_key: Mapped[str] = mapped_column(String(200))
    sm3: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str | None] = mapped_column(Text, comment="the platform's signed statement over it")
    org_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"))
    created_at: Mapped[dt.datetime]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("complaint_file", str(self.id))


class StatementRequest(Base):
    """The supervisor asks a party (被投诉人、其他相关当事人) for a written statement by a date."""

    __tablename__ = "complaint_statement"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaint.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[dt.datetime]
    due_at: Mapped[dt.datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[dt.datetime | None]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("complaint_statement", str(self.id))


class FactSource(StrEnum):
    TRAIL = "trail"  # from the audit trail (a ``stats.lot_fact`` event)
    GENERATED = "generated"  # the demo's generated history: never in the audit trail

    @property
    def label(self) -> str:
        return {"trail": "审计日志", "generated": "演示生成数据"}[self.value]


class LotFact(Base):
    """One lot as the statistics count it. Trail facts are written with their audit event
    (``stats.lot_fact``) and can be recomputed from a log export; generated facts are marked."""

    __tablename__ = "supervision_lot_fact"
    __table_args__ = (
        UniqueConstraint("source", "lot_key", name="uq_supervision_lot_fact_key"),
        Index("ix_supervision_lot_fact_announced_at", "announced_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[FactSource] = mapped_column(enum_column(FactSource, 10))
    lot_key: Mapped[str] = mapped_column(String(60), comment="tender code and lot number, e.g. GGZY-2026-000001/1")
    category: Mapped[str] = mapped_column(String(20))
    procedure_code: Mapped[str] = mapped_column(String(40))
    region: Mapped[str] = mapped_column(String(6))
    announced_at: Mapped[dt.datetime]
    concluded_at: Mapped[dt.datetime | None]
    outcome: Mapped[str] = mapped_column(String(12), comment="awarded, failed, terminated")
    budget: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    award_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    bids: Mapped[int | None] = mapped_column(Integer, comment="bids read out at the opening")
    fact_seq: Mapped[int | None] = mapped_column(BigInteger, comment="its stats.lot_fact audit event")
