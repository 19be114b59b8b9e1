"""The expert pool and committee draws (远程异地评标, first part: the pool and the verifiable draw)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base, enum_column
from trading.core.errors import Forbidden


class ExpertKind(StrEnum):
    POOL = "pool"  # 评标专家: in the pool, drawn at random
    REPRESENTATIVE = "representative"  # 招标人代表: named by the tenderee for its lots (Law 37), never drawn

    @property
    def label(self) -> str:
        return {"pool": "评标专家", "representative": "招标人代表"}[self.value]


#: What an expert declares beside its employers (``Expert.relations``' ``kind``), as the
#: declaration form and the draw's exclusions name it (实施条例第四十六条: 利害关系).
RELATION_LABELS = {"kinship": "亲属", "director": "董事或高管", "shareholder": "持股"}


class Expert(Base):
    """A member a committee can seat: an expert of the pool (staff keep the record, the expert its
    own declarations), or a tenderee's representative (made when first named; the draw never sees it)."""

    __tablename__ = "expert"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), unique=True)
    kind: Mapped[ExpertKind] = mapped_column(enum_column(ExpertKind), default=ExpertKind.POOL, server_default="pool")
    name: Mapped[str] = mapped_column(String(100))
    specialties: Mapped[list[str]] = mapped_column(JSON, comment="专业代码 (the pool's code list)")
    region: Mapped[str] = mapped_column(String(6), index=True, comment="行政区划代码 where the expert sits")
    employer: Mapped[str] = mapped_column(String(18), comment="统一社会信用代码 of the current employer")
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="former employers {credit_code, from, to}")
    relations: Mapped[list[dict[str, Any]]] = mapped_column(
        JSON, comment="declared kinship, directorships, shareholdings {kind, credit_code, from, to}"
    )
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    suspended_until: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("expert", str(self.id))


class DrawState(StrEnum):
    COMMITTED = "committed"  # inputs and the seed's SM3 published; not drawn yet
    DRAWN = "drawn"  # seed revealed, members invited

    @property
    def label(self) -> str:
        return {"committed": "已公布承诺，待抽取", "drawn": "已抽取"}[self.value]


class Draw(Base):
    """One round of drawing for a lot (the first, or a replacement round)."""

    __tablename__ = "expert_draw"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    state: Mapped[DrawState] = mapped_column(enum_column(DrawState))
    snapshot_key: Mapped[str] = mapped_column(String(80), comment="object store key of the snapshot")
    snapshot_sm3: Mapped[str] = mapped_column(String(64))
    seed: Mapped[bytes] = mapped_column(LargeBinary(32), comment="secret until drawn, then published")
    seed_sm3: Mapped[str] = mapped_column(String(64), comment="the commitment published before the draw")
    result: Mapped[list[list[int]] | None] = mapped_column(JSON, comment="[[slot, expert id], …]")
    created_at: Mapped[dt.datetime]
    drawn_at: Mapped[dt.datetime | None]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("expert_draw", str(self.id))


class MemberState(StrEnum):
    INVITED = "invited"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    RECUSED = "recused"  # 回避: withdrew in the room because of an interest in a bidder (Reg 46)

    @property
    def label(self) -> str:
        return {"invited": "待确认", "confirmed": "已确认", "declined": "已拒绝", "recused": "已回避"}[self.value]


class DrawMember(Base):
    __tablename__ = "expert_draw_member"
    __table_args__ = (UniqueConstraint("draw_id", "expert_id", name="uq_expert_draw_member_draw_id_expert_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("expert_draw.id"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"))
    slot: Mapped[int] = mapped_column(Integer)
    state: Mapped[MemberState] = mapped_column(enum_column(MemberState))
    answered_at: Mapped[dt.datetime | None]
    reason: Mapped[str | None] = mapped_column(String(300))
    replaced_by: Mapped[int | None] = mapped_column(
        ForeignKey("expert_draw.id"), comment="the round that refilled this seat (declined or recused)"
    )

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("expert_draw_member", str(self.id))


# ---------------------------------------------------------------- the evaluation room
class EvalState(StrEnum):
    SIGN_IN = "sign_in"  # 签到、回避承诺、推选组长
    COMPLIANCE = "compliance"  # 资格/符合性审查
    SCORING = "scoring"  # 详细评审（评分）
    SIGNING = "signing"  # 评标报告已生成，专家签署
    REPORTED = "reported"  # 全体签署；待公示
    PUBLICITY = "publicity"  # 中标候选人公示
    AWARDED = "awarded"  # 已定标

    @property
    def label(self) -> str:
        return EVAL_LABELS[self]


PUBLICITY_DUE_DAYS = 3  # Reg 54: candidates publicised within 3 days of the report

EVAL_LABELS = {
    EvalState.SIGN_IN: "签到与回避承诺",
    EvalState.COMPLIANCE: "资格/符合性审查",
    EvalState.SCORING: "详细评审",
    EvalState.SIGNING: "评标报告签署",
    EvalState.REPORTED: "评标结束，待公示",
    EvalState.PUBLICITY: "中标候选人公示",
    EvalState.AWARDED: "已定标",
}


class Evaluation(Base):
    """One lot's evaluation, from the room's opening to the award (a 回退 starts a new round)."""

    __tablename__ = "evaluation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), unique=True)
    state: Mapped[EvalState] = mapped_column(enum_column(EvalState))
    round: Mapped[int] = mapped_column(Integer, default=1, comment="increases with every 评标回退")
    z_limit: Mapped[float] = mapped_column(Float, comment="outlier threshold in standard deviations")
    candidates: Mapped[int] = mapped_column(Integer, comment="how many candidates the report recommends (1–3)")
    leader_expert_id: Mapped[int | None] = mapped_column(ForeignKey("expert.id"))
    compliance: Mapped[dict[str, Any] | None] = mapped_column(JSON, comment="{bidder id: {passed, votes}}")
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    report_sm3: Mapped[str | None] = mapped_column(String(64))
    report_pdf_key: Mapped[str | None] = mapped_column(String(80))
    report_statement: Mapped[str | None] = mapped_column(Text, comment="platform-signed, once every expert signed")
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="rounds sent back: {round, reason, at}")
    opened_at: Mapped[dt.datetime]
    reported_at: Mapped[dt.datetime | None] = mapped_column(
        comment="every member signed the report; Reg 54's 3 days to publicise run from here"
    )
    publicity_late_at: Mapped[dt.datetime | None] = mapped_column(comment="when a late publicity was reported (once)")
    publicity_announcement_id: Mapped[int | None] = mapped_column(ForeignKey("announcement.id"))
    publicity_ends_at: Mapped[dt.datetime | None]
    suspended_at: Mapped[dt.datetime | None] = mapped_column(comment="an objection is being answered (Reg 54)")
    winner_bidder_id: Mapped[int | None] = mapped_column(ForeignKey("ceremony_bidder.id"))
    award_reason: Mapped[str | None] = mapped_column(Text, comment="why not the first candidate, when not")
    awarded_at: Mapped[dt.datetime | None]
    notice_key: Mapped[str | None] = mapped_column(String(80), comment="中标通知书 PDF")
    notice_statement: Mapped[str | None] = mapped_column(Text)
    contract_signed_at: Mapped[dt.datetime | None]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("evaluation", str(self.id))

    def publicity_due(self) -> dt.datetime | None:
        """When the candidates must be publicised by (实施条例第五十四条: within 3 days of receiving
        the report), for a complete report not yet publicised; else None."""
        if self.state is not EvalState.REPORTED or self.report_statement is None or self.reported_at is None:
            return None
        return self.reported_at + dt.timedelta(days=PUBLICITY_DUE_DAYS)


class Seat(Base):
    """A committee member in the room: a drawn expert (``member_id``: its invitation) or one of the
    tenderee's representatives (``representative``, no draw); sign-in, recusal pledge (or recusal),
    leader vote."""

    __tablename__ = "evaluation_seat"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "expert_id", name="uq_evaluation_seat_evaluation_id_expert_id"),
        CheckConstraint(
            "(representative AND member_id IS NULL) OR (NOT representative AND member_id IS NOT NULL)",
            name="drawn_or_representative",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("expert_draw_member.id"))
    representative: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sa_false(), comment="招标人代表, named by the tenderee"
    )
    designated_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id"), comment="who named the representative"
    )
    signed_in_at: Mapped[dt.datetime | None]
    signin_signature: Mapped[str | None] = mapped_column(Text)
    pledged_at: Mapped[dt.datetime | None]
    pledge_signature: Mapped[str | None] = mapped_column(Text)
    recused_at: Mapped[dt.datetime | None]
    recusal_reason: Mapped[str | None] = mapped_column(String(300))
    leader_vote: Mapped[int | None] = mapped_column(ForeignKey("expert.id"))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("evaluation_seat", str(self.id))

    def require_pledged(self, to: str = "参与评审") -> None:
        """NotPledged unless this member signed the recusal pledge (回避承诺书) against the named
        bidders: nobody with an interest in a bidder may sit on the committee (招标投标法第三十七条,
        实施条例第四十六条), so no member sees a bid, votes, scores or signs before declaring it has
        none. Every operation of a member in the review asks this; ``to`` names what was refused."""
        if self.pledged_at is None:
            raise NotPledged(f"签署回避承诺后才能{to}")


class NotPledged(Forbidden):
    """A committee member who has not signed the recusal pledge tried to take part in the review."""

    code = "not_pledged"


class ComplianceVote(Base):
    __tablename__ = "evaluation_compliance_vote"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "round", "expert_id", "bidder_id", name="uq_evaluation_compliance_vote"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"))
    bidder_id: Mapped[int] = mapped_column(ForeignKey("ceremony_bidder.id"))
    passed: Mapped[bool] = mapped_column(Boolean)
    failed_items: Mapped[list[str]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[dt.datetime]


class ScoreSheet(Base):
    """One expert's factor scores for one bidder, in one round; the platform adds the price score."""

    __tablename__ = "evaluation_score"
    __table_args__ = (UniqueConstraint("evaluation_id", "round", "expert_id", "bidder_id", name="uq_evaluation_score"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"))
    bidder_id: Mapped[int] = mapped_column(ForeignKey("ceremony_bidder.id"))
    scores: Mapped[dict[str, str]] = mapped_column(JSON, comment="factor → decimal string")
    declared_total: Mapped[Decimal] = mapped_column(Numeric(8, 2))
    submitted_at: Mapped[dt.datetime]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("evaluation_score", str(self.id))


#: What the checks before the report find (``scoring.checks``), as the room and the report name it.
FLAG_LABELS = {"arithmetic": "算术", "objective": "客观分不一致", "outlier": "离群"}


class Flag(Base):
    """A finding of the checks before the report; open until resolved with a reason or gone."""

    __tablename__ = "evaluation_flag"
    __table_args__ = (UniqueConstraint("evaluation_id", "round", "key", name="uq_evaluation_flag_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(20))
    expert_id: Mapped[int | None] = mapped_column(ForeignKey("expert.id"))
    bidder_id: Mapped[int] = mapped_column(ForeignKey("ceremony_bidder.id"))
    factor: Mapped[str | None] = mapped_column(String(100))
    detail: Mapped[str] = mapped_column(String(500))
    raised_at: Mapped[dt.datetime]
    cleared_at: Mapped[dt.datetime | None] = mapped_column(comment="the condition is gone (scores revised)")
    resolution: Mapped[str | None] = mapped_column(Text)
    resolved_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    resolved_at: Mapped[dt.datetime | None]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("evaluation_flag", str(self.id))


class Clarification(Base):
    """A question from the committee to one bidder (澄清), answered through the platform by a deadline."""

    __tablename__ = "evaluation_clarification"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    bidder_id: Mapped[int] = mapped_column(ForeignKey("ceremony_bidder.id"))
    question: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[dt.datetime]
    deadline: Mapped[dt.datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[dt.datetime | None]
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("evaluation_clarification", str(self.id))


class ReportSignature(Base):
    __tablename__ = "evaluation_report_signature"
    __table_args__ = (UniqueConstraint("evaluation_id", "round", "expert_id", name="uq_evaluation_report_signature"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"))
    report_sm3: Mapped[str] = mapped_column(String(64))
    agree: Mapped[bool] = mapped_column(Boolean)
    dissent: Mapped[str | None] = mapped_column(Text, comment="a dissenting expert's written reasons")
    signature: Mapped[str] = mapped_column(Text)
    signed_at: Mapped[dt.datetime]


class PublicityObjection(Base):
    """An objection to the candidates during publicity (Reg 54): the lot waits until it is answered."""

    __tablename__ = "evaluation_objection"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    answer_due: Mapped[dt.datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[dt.datetime | None]
    overdue_at: Mapped[dt.datetime | None] = mapped_column(comment="when its lateness was reported (once)")

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("evaluation_objection", str(self.id))
