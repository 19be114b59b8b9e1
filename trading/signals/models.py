"""The signals stage's tables: collusion signals (串标迹象) computed after a lot's opening, the
committee's record of how it considered them, the ratings of experts after an evaluation (标后评价)
and the ratings of the center's services by the people it served (好差评).

A signal is evidence for people to weigh, never a verdict: each names the bids it links and what
links them (an address, a file's SM3, a metadata value, a price pattern).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base, enum_column


class SignalKind(StrEnum):
    SAME_ADDRESS = "same_address"  # uploaded from the same network address
    SAME_INSTALL = "same_install"  # uploaded from the same ggzy-bid installation
    SAME_FILE = "same_file"  # an identical file (SM3) in different bidders' packages
    SAME_METADATA = "same_metadata"  # identical author / creator tool / creation time
    PRICE_PATTERN = "price_pattern"  # equal prices, equal gaps, same odd decimals, within 0.1 %
    SAME_SHEET_ERROR = "same_sheet_error"  # the same mistake in the price sheet
    SAME_PERSON = "same_person"  # the same contact or legal representative

    @property
    def label(self) -> str:
        return SIGNAL_LABELS[self]


SIGNAL_LABELS = {
    SignalKind.SAME_ADDRESS: "同一网络地址上传",
    SignalKind.SAME_INSTALL: "同一投标工具安装上传",
    SignalKind.SAME_FILE: "不同投标人文件完全相同",
    SignalKind.SAME_METADATA: "文档属性一致（作者、创建工具、创建时间）",
    SignalKind.PRICE_PATTERN: "报价呈规律性",
    SignalKind.SAME_SHEET_ERROR: "开标一览表错误相同",
    SignalKind.SAME_PERSON: "联系人或法定代表人相同",
}


class SignalRun(Base):
    """The signals of one lot, computed once after its opening and signed by the platform."""

    __tablename__ = "signal_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"), unique=True)
    ceremony_id: Mapped[int] = mapped_column(ForeignKey("ceremony.id"))
    computed_at: Mapped[dt.datetime]
    bids: Mapped[int] = mapped_column(Integer)
    files: Mapped[int] = mapped_column(Integer, comment="files read inside the decrypted packages")
    skipped: Mapped[list[dict[str, Any]]] = mapped_column(JSON, comment="what could not be read, and why")
    statement: Mapped[str] = mapped_column(Text, comment="platform-signed list of the signals (canonical JSON)")
    statement_sm3: Mapped[str] = mapped_column(String(64))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("signal_run", str(self.id))


class Signal(Base):
    __tablename__ = "signal"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("signal_run.id", ondelete="CASCADE"), index=True)
    kind: Mapped[SignalKind] = mapped_column(enum_column(SignalKind, 20, checked=False))
    bidder_ids: Mapped[list[int]] = mapped_column(JSON, comment="ceremony_bidder ids the signal links")
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON)


class SignalReview(Base):
    """How the committee considered a lot's signals (one record per evaluation round)."""

    __tablename__ = "signal_review"
    __table_args__ = (UniqueConstraint("evaluation_id", "round", name="uq_signal_review_round"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id", ondelete="CASCADE"))
    round: Mapped[int] = mapped_column(Integer)
    run_id: Mapped[int] = mapped_column(ForeignKey("signal_run.id"))
    text: Mapped[str] = mapped_column(Text)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("signal_review", str(self.id))


class RaterRole(StrEnum):
    STAFF = "staff"
    TENDEREE = "tenderee"
    BIDDER = "bidder"

    @property
    def label(self) -> str:
        return {"staff": "交易中心", "tenderee": "招标人", "bidder": "投标人"}[self.value]


class ExpertRating(Base):
    """标后评价: one rater's marks (1–5) for one expert after one evaluation."""

    __tablename__ = "expert_rating"
    __table_args__ = (
        UniqueConstraint("evaluation_id", "expert_id", "rater_role", name="uq_expert_rating_rater"),
        Index("ix_expert_rating_expert", "expert_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    evaluation_id: Mapped[int] = mapped_column(ForeignKey("evaluation.id"))
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"))
    rater_role: Mapped[RaterRole] = mapped_column(enum_column(RaterRole, 10, checked=False))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    punctuality: Mapped[int] = mapped_column(Integer)
    diligence: Mapped[int] = mapped_column(Integer)
    quality: Mapped[int] = mapped_column(Integer)
    discipline: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(Text, default="", comment="required for any mark below 3")
    at: Mapped[dt.datetime]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("expert_rating", str(self.id))


class ServiceKind(StrEnum):
    PUBLICATION_REVIEW = "publication_review"  # a tender's publication review (公告审核发布)
    OPENING = "opening"  # an opening (开标)
    EVALUATION = "evaluation"  # an evaluation session (评标服务)
    COMPLAINT = "complaint"  # a complaint's handling (投诉处理)

    @property
    def label(self) -> str:
        return SERVICE_LABELS[self]


SERVICE_LABELS = {
    ServiceKind.PUBLICATION_REVIEW: "公告审核发布",
    ServiceKind.OPENING: "开标服务",
    ServiceKind.EVALUATION: "评标服务",
    ServiceKind.COMPLAINT: "投诉处理",
}


class ServiceRating(Base):
    """好差评: one organisation's rating (1–5) of one service; a bad one is answered by the center."""

    __tablename__ = "service_rating"
    __table_args__ = (
        UniqueConstraint("service", "subject", "org_id", name="uq_service_rating_rater"),
        Index("ix_service_rating_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service: Mapped[ServiceKind] = mapped_column(enum_column(ServiceKind, 20, checked=False))
    subject: Mapped[str] = mapped_column(String(40), comment="tender code, lot ref, evaluation id or complaint number")
    tender_code: Mapped[str | None] = mapped_column(String(32))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    rater_role: Mapped[RaterRole] = mapped_column(enum_column(RaterRole, 10, checked=False))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime]
    answer_due: Mapped[dt.datetime | None] = mapped_column(comment="set for a bad rating (差评): the center answers")
    answer: Mapped[str | None] = mapped_column(Text)
    answered_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    answered_at: Mapped[dt.datetime | None]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("service_rating", str(self.id))
