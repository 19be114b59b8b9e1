"""A bidder's own bids and their receipts (回执): only ever its own before the opening; anyone can
check a receipt against the platform's signing certificate, here or offline with ggzy-bid."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.statements import SignedStatement
from trading.accounts.models import User
from trading.bids.models import Bid
from trading.core.errors import NotFound
from trading.core.platform_keys import PlatformKeys
from trading.tenders.models import Tender


def my_bids(session: Session, user: User, tender: Tender | None = None) -> list[Bid]:
    if user.organisation_id is None:
        return []
    q = select(Bid).where(Bid.org_id == user.organisation_id)
    if tender is not None:
        q = q.where(Bid.tender_id == tender.id)
    return list(session.scalars(q.order_by(Bid.id.desc())))


def get_my_bid(session: Session, user: User, ciphertext_sm3: str) -> Bid:
    q = select(Bid).where(Bid.ciphertext_sm3 == ciphertext_sm3, Bid.org_id == user.organisation_id)
    bid = session.scalar(q.order_by(Bid.id.desc()).limit(1))
    if bid is None:
        raise NotFound("投标文件不存在")
    return bid


def verify_receipt(keys: PlatformKeys, data: bytes) -> dict[str, Any]:
    """The receipt's statement, if the platform signed it (``SigningError`` names what is wrong)."""
    return SignedStatement.from_json(data.strip()).verify(trusted=keys.sign_cert, expected_type="bid_receipt")
