"""What the registration and deposit API accepts and answers (竞买申请、竞买保证金)."""

from __future__ import annotations

import datetime as dt

from pydantic import Field, StrictBool

from trading.auctions.deposits import MAX_REFERENCE
from trading.auctions.registrations import MAX_REASON
from trading.core.apispec import Reply
from trading.core.schemas import OneLine, Schema, TextBlock


# ---------------------------------------------------------------- requests
class ApplyIn(Schema):
    """竞买申请 (the body may be empty: an application without a contact)."""

    contact_name: OneLine = Field("", max_length=50, title="联系人")
    contact_phone: str = Field("", max_length=20, pattern=r"^[0-9+\-]*$", title="联系电话（数字、+、-）")


class ReviewIn(Schema):
    approve: StrictBool = Field(title="是否通过", description="true：通过（抽取竞买号牌）；false：不通过")
    reason: TextBlock = Field("", max_length=MAX_REASON, title="理由", description="不通过时必填")


class ReferenceIn(Schema):
    reference: OneLine = Field(
        min_length=1, max_length=MAX_REFERENCE, title="银行流水号", description="转账或退款的银行流水号、凭证号"
    )


# ---------------------------------------------------------------- answers
class DocumentOut(Reply):
    id: int
    name: str
    size: int
    sm3: str
    uploaded_at: dt.datetime


class DepositEntryOut(Reply):
    kind: str = Field(description="reported | confirmed | converted | refunded")
    kind_label: str
    amount: str = Field(description="元，两位小数")
    reference: str
    note: str
    at: dt.datetime
    due_by: dt.datetime | None = Field(None, description="退还：规定的退还期限")


class OwnRegistrationOut(Reply):
    """A buyer's own application: only ever the caller's organisation's."""

    id: int
    auction: str
    state: str = Field(description="submitted | approved | rejected | withdrawn")
    state_label: str
    review_reason: str | None
    bidding_number: str | None = Field(description="竞买号牌：审核通过后抽取，仅本单位和平台可见")
    deposit_state: str = Field(description="unpaid | reported | confirmed | converted | refunded")
    deposit_state_label: str
    deposit: str = Field(description="应缴保证金（元）")
    may_bid: bool
    wants_timed: bool
    contact_name: str
    contact_phone: str
    created_at: dt.datetime
    documents: list[DocumentOut]
    deposit_entries: list[DepositEntryOut]


class StaffRegistrationOut(OwnRegistrationOut):
    """The platform's view: who holds the number."""

    org_name: str
    org_credit_code: str
    refund_due_by: dt.datetime | None = Field(None, description="尚待退还时：退还期限")
    refund_overdue: bool = False


class CountsOut(Reply):
    applied: int
    approved: int
    may_bid: int


class RegistrationsOut(Reply):
    auction: str
    counts: CountsOut
    items: list[StaffRegistrationOut]
