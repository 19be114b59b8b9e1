"""Electronic guarantees (电子保函): the bidder's order to an issuer, the guarantee the issuer signs,
the tenderee's claims, and the nonces of the issuers' signed messages (replays refused).

An order is for one bidder, one lot and one issuer; at most one order per bidder and lot is live
(applied, approved or issued) at a time, so the bond status of a bid has one answer.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from trading.core.db import Base, enum_column


class OrderState(StrEnum):
    APPLIED = "applied"  # sent to the issuer, not yet decided
    REJECTED = "rejected"  # the issuer declined
    ISSUED = "issued"  # a guarantee was accepted for it
    CANCELLED = "cancelled"  # the bidder withdrew the application before it was decided

    @property
    def label(self) -> str:
        return ORDER_STATE_LABELS[self]


ORDER_STATE_LABELS = {
    OrderState.APPLIED: "待出具机构审核",
    OrderState.REJECTED: "出具机构已拒绝",
    OrderState.ISSUED: "已出函",
    OrderState.CANCELLED: "已取消",
}


LIVE_ORDER_STATES = (OrderState.APPLIED.value, OrderState.ISSUED.value)


class GuaranteeState(StrEnum):
    SEALED = "sealed"  # 保函加密: verified but for the sealed terms, which the issuer reveals at the opening
    INVALID = "invalid"  # its revealed terms do not satisfy the bond
    VALID = "valid"  # verified against the tender: satisfies the bond
    RELEASED = "released"  # 释放: the bond is no longer needed
    CLAIMED = "claimed"  # a claim is with the issuer
    PAID = "paid"  # the issuer paid a claim

    @property
    def label(self) -> str:
        return GUARANTEE_STATE_LABELS[self]


GUARANTEE_STATE_LABELS = {
    GuaranteeState.SEALED: "待揭示",
    GuaranteeState.INVALID: "无效",
    GuaranteeState.VALID: "有效",
    GuaranteeState.RELEASED: "已释放",
    GuaranteeState.CLAIMED: "索赔中",
    GuaranteeState.PAID: "已赔付",
}


class ClaimState(StrEnum):
    FILED = "filed"  # forwarded to the issuer
    PAID = "paid"
    REFUSED = "refused"

    @property
    def label(self) -> str:
        return CLAIM_STATE_LABELS[self]


CLAIM_STATE_LABELS = {ClaimState.FILED: "已提交出具机构", ClaimState.PAID: "已赔付", ClaimState.REFUSED: "出具机构拒赔"}


class ClaimGround(StrEnum):
    WITHDREW_AFTER_DEADLINE = "withdrew_after_deadline"  # Reg 35: withdrew (did not open) after the deadline
    REFUSED_CONTRACT = "refused_contract"  # Reg 74: the winner refused to sign the contract

    @property
    def label(self) -> str:
        return CLAIM_GROUND_LABELS[self]


CLAIM_GROUND_LABELS = {
    ClaimGround.WITHDREW_AFTER_DEADLINE: "投标截止后撤销投标文件",
    ClaimGround.REFUSED_CONTRACT: "中标后拒绝签订合同",
}


class GuaranteeOrder(Base):
    __tablename__ = "guarantee_order"
    __table_args__ = (
        Index(
            "uq_guarantee_order_live",
            "lot_id",
            "org_id",
            unique=True,
            sqlite_where=text("state IN ('applied', 'issued')"),
            postgresql_where=text("state IN ('applied', 'issued')"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tender_id: Mapped[int] = mapped_column(ForeignKey("tender.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"), comment="the principal (bidder)")
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    issuer_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    state: Mapped[OrderState] = mapped_column(enum_column(OrderState))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2), comment="the lot's bond when applied")
    valid_until: Mapped[dt.date] = mapped_column(Date, comment="at least the bid validity's end (Reg 26)")
    created_at: Mapped[dt.datetime]
    decided_at: Mapped[dt.datetime | None]
    reject_reason: Mapped[str | None] = mapped_column(Text)
    last_refusal: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="why the platform refused the issuer's last guarantee (code, message, at)"
    )

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("guarantee_order", str(self.id))


class Guarantee(Base):
    """A guarantee the issuer signed and the platform verified against the tender."""

    __tablename__ = "guarantee"
    __table_args__ = (
        UniqueConstraint("issuer_org_id", "number", name="uq_guarantee_issuer_org_id_number"),
        UniqueConstraint("order_id", name="uq_guarantee_order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("guarantee_order.id"))
    issuer_org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    lot_id: Mapped[int] = mapped_column(ForeignKey("lot.id"))
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id"))
    number: Mapped[str] = mapped_column(String(64), comment="保函编号, unique per issuer")
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)
    verification_code: Mapped[str] = mapped_column(String(64), comment="保函验真码")
    document_name: Mapped[str] = mapped_column(String(200))
    document_key: Mapped[str | None] = mapped_column(
        String(80), comment="object store key of the PDF/OFD (a sealed guarantee's comes with the reveal)"
    )
    document_sm3: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text, comment="the canonical JSON the issuer signed")
    signature: Mapped[str] = mapped_column(Text, comment="base64 DER SM2 of the issuer's signing certificate")
    signer_cert: Mapped[str] = mapped_column(Text, comment="base64 DER of that certificate")
    state: Mapped[GuaranteeState] = mapped_column(enum_column(GuaranteeState))
    verified_at: Mapped[dt.datetime]
    revealed_at: Mapped[dt.datetime | None]
    openings: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, comment="the sealed fields' values and salts, once revealed"
    )
    invalid_reason: Mapped[dict[str, Any] | None] = mapped_column(JSON, comment="code and message, when invalid")
    released_at: Mapped[dt.datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(200))

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("guarantee", str(self.id))


class GuaranteeClaim(Base):
    """索赔: the tenderee's claim, forwarded to the issuer, with its answer and payment."""

    __tablename__ = "guarantee_claim"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    guarantee_id: Mapped[int] = mapped_column(ForeignKey("guarantee.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), comment="the tenderee's user who filed it")
    ground: Mapped[ClaimGround] = mapped_column(enum_column(ClaimGround, 30))
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, comment="the facts on record behind the ground")
    statement: Mapped[str] = mapped_column(Text, comment="the tenderee's own words")
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 2))
    state: Mapped[ClaimState] = mapped_column(enum_column(ClaimState))
    filed_at: Mapped[dt.datetime]
    answer: Mapped[str | None] = mapped_column(Text)
    paid_amount: Mapped[Decimal | None] = mapped_column(Numeric(18, 2))
    payment_reference: Mapped[str | None] = mapped_column(String(80))
    answered_at: Mapped[dt.datetime | None]

    @property
    def audit_ref(self) -> tuple[str, str]:
        return ("guarantee_claim", str(self.id))


class ApiNonce(Base):
    """Nonces of signed messages seen from each client, kept past the freshness window."""

    __tablename__ = "api_nonce"

    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    seen_at: Mapped[dt.datetime] = mapped_column(index=True)
