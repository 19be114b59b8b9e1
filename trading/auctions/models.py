"""Rights trading (产权与资源交易): auction procedures as data, lots (标的) sold to the highest
bidder, buyers' registrations (竞买申请) with their deposits (保证金) and bidding numbers (竞买号牌),
the accepted bids in their one order, and the room's public events.

A lot's ``state`` has one writer (``trading.auctions.lifecycle.move_auction``); a registration's
``state`` and ``deposit_state`` have theirs (``registrations.move_registration``,
``deposits.move_deposit``). Accepted bids are numbered 1, 2, 3 … per lot under the lot's row lock
(``bidding.place_bid``); refused bids are answered, never stored.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
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
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base, enum_column


class Method(StrEnum):
    AUCTION = "auction"  # 拍卖: free bidding, then the countdown
    LISTING = "listing"  # 挂牌: quotes during the listing period, timed bidding if two want to go on
    ONLINE = "online"  # 网络竞价 (产权): free bidding, then the countdown

    @property
    def label(self) -> str:
        return METHOD_LABELS[self]


METHOD_LABELS = {Method.AUCTION: "拍卖", Method.LISTING: "挂牌", Method.ONLINE: "网络竞价"}


class AuctionProcedure(Base):
    """One row per way of selling (国有建设用地使用权挂牌出让, 企业国有产权网络竞价, …): the legal
    periods with their source; staff may tighten them, never go below the law (``rules``)."""

    __tablename__ = "auction_procedure"
    __table_args__ = (
        CheckConstraint(
            "min_announcement_days >= 0 AND min_listing_days >= 0 AND extension_days >= 0"
            " AND countdown_seconds >= 10 AND free_minutes >= 0 AND publicity_days >= 0 AND refund_days >= 0",
            name="periods_non_negative",
        ),
    )

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    method: Mapped[Method] = mapped_column(enum_column(Method, 10))
    category: Mapped[str] = mapped_column(String(20), comment="a TenderCategory value: land_use, state_property, …")
    day_kind: Mapped[str] = mapped_column(String(10), comment="calendar (日) or working (工作日)")
    min_announcement_days: Mapped[int] = mapped_column(Integer, comment="announcement → bidding or listing starts")
    min_listing_days: Mapped[int] = mapped_column(Integer, comment="listing: quotes period; property: disclosure")
    extension_days: Mapped[int] = mapped_column(Integer, comment="an extension of the disclosure, at least")
    free_minutes: Mapped[int] = mapped_column(Integer, comment="auction / online: free bidding before the countdown")
    countdown_seconds: Mapped[int] = mapped_column(Integer, comment="限时竞价: each accepted bid restarts it")
    publicity_days: Mapped[int] = mapped_column(Integer, comment="成交公示 period")
    refund_days: Mapped[int] = mapped_column(Integer, comment="working days to refund the others' deposits")
    source: Mapped[str] = mapped_column(String(300), comment="the rules these numbers come from")


class AuctionState(StrEnum):
    DRAFT = "draft"  # being set up by staff
    ANNOUNCED = "announced"  # 公告期: registrations open, no bidding yet
    LISTING = "listing"  # 挂牌期: quotes accepted
    FREE = "free"  # 自由竞价
    COUNTDOWN = "countdown"  # 限时竞价: each accepted bid restarts the countdown
    PAUSED = "paused"  # a technical fault; the remaining time is kept
    SOLD = "sold"  # 成交
    FAILED = "failed"  # 流拍: no bid, or below the reserve
    CANCELLED = "cancelled"  # 终止 before any bid

    @property
    def label(self) -> str:
        return AUCTION_STATE_LABELS[self]

    @property
    def bidding(self) -> bool:
        return self in BIDDING_STATES

    @property
    def ended(self) -> bool:
        return self in (AuctionState.SOLD, AuctionState.FAILED, AuctionState.CANCELLED)


AUCTION_STATE_LABELS = {
    AuctionState.DRAFT: "草稿",
    AuctionState.ANNOUNCED: "公告中",
    AuctionState.LISTING: "挂牌中",
    AuctionState.FREE: "自由竞价",
    AuctionState.COUNTDOWN: "限时竞价",
    AuctionState.PAUSED: "暂停",
    AuctionState.SOLD: "已成交",
    AuctionState.FAILED: "流拍",
    AuctionState.CANCELLED: "已终止",
}
BIDDING_STATES = (AuctionState.LISTING, AuctionState.FREE, AuctionState.COUNTDOWN)


class Auction(Base):
    """A lot (标的) for sale: its prices, its periods, and the state of its room.

    The reserve price (底价) is kept secret until the end (国土资源部令第39号): the public sees
    only ``reserve_sm3`` = SM3(salt ‖ price text) from publication on; the price and salt are
    wrapped with the platform's key-encryption key in ``reserve_box`` and written in clear to
    ``reserve_price``/``reserve_salt`` only when the lot ends, so anyone can check the commitment.
    """

    __tablename__ = "auction"
    __table_args__ = (
        CheckConstraint("starting_price > 0 AND increment > 0 AND deposit >= 0", name="prices_positive"),
        CheckConstraint("current_seq >= 0", name="seq_non_negative"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True, comment="标的编号, e.g. PM-2026-0001")
    title: Mapped[str] = mapped_column(String(200))
    procedure_code: Mapped[str] = mapped_column(ForeignKey("auction_procedure.code"))
    category: Mapped[str] = mapped_column(String(20))
    region: Mapped[str] = mapped_column(String(6))
    transferor: Mapped[str] = mapped_column(String(200), comment="出让人 / 转让方")
    description: Mapped[str] = mapped_column(Text, default="")
    qualification: Mapped[str] = mapped_column(Text, default="", comment="竞买人资格条件")
    starting_price: Mapped[Decimal] = mapped_column(Numeric(18, 2), comment="起始价 / 挂牌起始价")
    increment: Mapped[Decimal] = mapped_column(Numeric(18, 2), comment="加价幅度 (staff may change it in a listing)")
    deposit: Mapped[Decimal] = mapped_column(Numeric(18, 2), comment="竞买保证金")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    reserve_sm3: Mapped[str | None] = mapped_column(String(64), comment="SM3(salt ‖ price); none: no reserve")
    reserve_box: Mapped[bytes | None] = mapped_column(LargeBinary, comment="the price and salt, wrapped; until the end")
    reserve_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 2), comment="revealed at the end")
    reserve_salt: Mapped[str | None] = mapped_column(String(64), comment="revealed at the end")
    countdown_seconds: Mapped[int] = mapped_column(Integer, comment="from the procedure; each bid restarts it")
    announced_at: Mapped[dt.datetime | None] = mapped_column()
    announcement_statement: Mapped[str | None] = mapped_column(
        Text, comment="the platform-signed announcement: prices, periods, the reserve's commitment"
    )
    registration_ends_at: Mapped[dt.datetime] = mapped_column(comment="竞买申请 and deposit deadline")
    bidding_starts_at: Mapped[dt.datetime] = mapped_column(comment="listing: quotes open; auction: free bidding")
    free_ends_at: Mapped[dt.datetime] = mapped_column(comment="listing: its end; auction: the countdown starts")
    countdown_ends_at: Mapped[dt.datetime | None] = mapped_column(comment="while counting down: the end, if no bid")
    state: Mapped[AuctionState] = mapped_column(enum_column(AuctionState), default=AuctionState.DRAFT)
    paused_from: Mapped[AuctionState | None] = mapped_column(enum_column(AuctionState, checked=False))
    paused_at: Mapped[dt.datetime | None] = mapped_column()
    pause_reason: Mapped[str | None] = mapped_column(Text)
    current_seq: Mapped[int] = mapped_column(Integer, default=0, comment="accepted bids so far")
    current_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    leader_id: Mapped[int | None] = mapped_column(Integer, comment="the registration of the highest bid")
    ended_at: Mapped[dt.datetime | None] = mapped_column()
    final_price: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    result_statement: Mapped[str | None] = mapped_column(
        Text, comment="the platform-signed 成交确认书 / 流拍 statement"
    )
    result_sm3: Mapped[str | None] = mapped_column(String(64))
    result_pdf_key: Mapped[str | None] = mapped_column(String(200))
    publicity_ends_at: Mapped[dt.datetime | None] = mapped_column(comment="成交公示 until")
    created_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column()

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("auction", self.code)


class AuctionDocument(Base):
    """A document of the lot (出让文件, 评估报告摘要, …) or of one registration (资格证明)."""

    __tablename__ = "auction_document"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("auction.id", ondelete="CASCADE"), index=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("auction_registration.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    object_key: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sm3: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column()


class RegistrationState(StrEnum):
    SUBMITTED = "submitted"  # 待审核
    APPROVED = "approved"  # 资格审核通过
    REJECTED = "rejected"  # 资格审核未通过
    WITHDRAWN = "withdrawn"  # the buyer withdrew before the registration deadline

    @property
    def label(self) -> str:
        return REGISTRATION_STATE_LABELS[self]


REGISTRATION_STATE_LABELS = {
    RegistrationState.SUBMITTED: "待审核",
    RegistrationState.APPROVED: "审核通过",
    RegistrationState.REJECTED: "审核未通过",
    RegistrationState.WITHDRAWN: "已撤回",
}


class DepositState(StrEnum):
    UNPAID = "unpaid"  # 未缴纳
    REPORTED = "reported"  # the buyer reported a bank transfer; staff have not confirmed it
    CONFIRMED = "confirmed"  # 已到账 (staff checked the bank's record)
    CONVERTED = "converted"  # 转为成交价款 (the winner's)
    REFUNDED = "refunded"  # 已退还

    @property
    def label(self) -> str:
        return DEPOSIT_STATE_LABELS[self]


DEPOSIT_STATE_LABELS = {
    DepositState.UNPAID: "未缴纳",
    DepositState.REPORTED: "待确认到账",
    DepositState.CONFIRMED: "已到账",
    DepositState.CONVERTED: "已转为成交价款",
    DepositState.REFUNDED: "已退还",
}


class Registration(Base):
    """A buyer's 竞买申请 for one lot. Its bidding number is drawn when staff approve it; only the
    buyer and the platform know whose it is until the result."""

    __tablename__ = "auction_registration"
    __table_args__ = (
        UniqueConstraint("auction_id", "org_id", name="uq_auction_registration_auction_id_org_id"),
        UniqueConstraint("auction_id", "bidding_number", name="uq_auction_registration_auction_id_bidding_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("auction.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), comment="who applied")
    contact_name: Mapped[str] = mapped_column(String(50), default="")
    contact_phone: Mapped[str] = mapped_column(String(30), default="")
    state: Mapped[RegistrationState] = mapped_column(
        enum_column(RegistrationState), default=RegistrationState.SUBMITTED
    )
    review_reason: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    reviewed_at: Mapped[dt.datetime | None] = mapped_column()
    bidding_number: Mapped[str | None] = mapped_column(String(8), comment="竞买号牌, drawn on approval")
    deposit_state: Mapped[DepositState] = mapped_column(enum_column(DepositState), default=DepositState.UNPAID)
    wants_timed: Mapped[bool] = mapped_column(default=False, comment="挂牌: asks for timed bidding at the end")
    created_at: Mapped[dt.datetime] = mapped_column()

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("auction_registration", str(self.id))

    @property
    def may_bid(self) -> bool:
        return self.state is RegistrationState.APPROVED and self.deposit_state is DepositState.CONFIRMED


class DepositKind(StrEnum):
    REPORTED = "reported"  # the buyer: "transferred, bank reference …"
    CONFIRMED = "confirmed"  # staff: the bank shows it arrived
    CONVERTED = "converted"  # the winner's deposit becomes part of the price
    REFUNDED = "refunded"  # staff: paid back, bank reference …

    @property
    def label(self) -> str:
        return DEPOSIT_KIND_LABELS[self]


DEPOSIT_KIND_LABELS = {
    DepositKind.REPORTED: "竞买人报告已汇款",
    DepositKind.CONFIRMED: "确认到账",
    DepositKind.CONVERTED: "转为成交价款",
    DepositKind.REFUNDED: "退还",
}


class DepositEntry(Base):
    """The deposit ledger: append-only lines; a registration's ``deposit_state`` sums them up."""

    __tablename__ = "auction_deposit_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("auction_registration.id", ondelete="CASCADE"), index=True)
    kind: Mapped[DepositKind] = mapped_column(enum_column(DepositKind))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    reference: Mapped[str] = mapped_column(String(100), default="", comment="the bank transfer's reference")
    note: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime] = mapped_column()
    due_by: Mapped[dt.datetime | None] = mapped_column(comment="refunds: the legal limit")


class Phase(StrEnum):
    LISTING = "listing"  # 挂牌报价
    FREE = "free"  # 自由竞价
    COUNTDOWN = "countdown"  # 限时竞价

    @property
    def label(self) -> str:
        return PHASE_LABELS[self]


PHASE_LABELS = {Phase.LISTING: "挂牌报价", Phase.FREE: "自由竞价", Phase.COUNTDOWN: "限时竞价"}


class AuctionBid(Base):
    """An accepted bid: the buyer's signed statement as received, and its place in the one order."""

    __tablename__ = "auction_bid"
    __table_args__ = (
        UniqueConstraint("auction_id", "seq", name="uq_auction_bid_auction_id_seq"),
        CheckConstraint("seq >= 1 AND amount > 0", name="seq_and_amount_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("auction.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer, comment="1, 2, 3 … in the order the database accepted them")
    registration_id: Mapped[int] = mapped_column(ForeignKey("auction_registration.id"))
    bidding_number: Mapped[str] = mapped_column(String(8))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    seen_seq: Mapped[int] = mapped_column(Integer, comment="the last bid the buyer had seen when it signed")
    phase: Mapped[Phase] = mapped_column(enum_column(Phase))
    statement: Mapped[str] = mapped_column(Text, comment="the signed canonical JSON (signing.statements)")
    signature: Mapped[str] = mapped_column(Text, comment="base64 DER SM2 over the statement")
    signer_cert: Mapped[str] = mapped_column(Text, comment="base64 DER of the buyer's signing certificate")
    accepted_at: Mapped[dt.datetime] = mapped_column()
    countdown_ends_at: Mapped[dt.datetime | None] = mapped_column(comment="the restarted countdown's end")


class AuctionEvent(Base):
    """The room's public feed (live server, reconnects, the public page): numbers, never names."""

    __tablename__ = "auction_event"
    __table_args__ = (Index("ix_auction_event_auction_id_id", "auction_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    auction_id: Mapped[int] = mapped_column(ForeignKey("auction.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20), comment="bid, state, increment, pause, resume, result")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column()


EVENT_KIND_LABELS = {
    "bid": "出价",
    "state": "阶段变化",
    "increment": "调整加价幅度",
    "pause": "暂停",
    "resume": "恢复",
    "result": "竞价结果",
    "timed": "申请限时竞价",
    "extend": "延长信息披露期",
}
