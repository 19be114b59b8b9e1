"""Withdrawal of a bid before the deadline (撤回, 招标投标法第二十九条), signed by the bidder with
its registered certificate; the platform answers with a signed confirmation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.db import locked
from signing.digest import sm3_hex
from signing.statements import bid_withdrawal_statement, sign_statement
from trading.accounts.models import User
from trading.bids.acceptance import ensure_accepting
from trading.bids.lifecycle import move_bid
from trading.bids.models import Bid, BidState
from trading.core.errors import Conflict
from trading.core.platform_keys import PlatformKeys
from trading.pki.operations import check_signature, registered_signing_cert, trust_store
from trading.tenders.models import Lot, Tender
from trading.tenders.operations import get_tender


def withdraw_bid(session: Session, keys: PlatformKeys, user: User, bid: Bid, signature_b64: str) -> str:
    """ACCEPTED → WITHDRAWN before the deadline, signed by the bidder; returns the signed confirmation."""
    tender = session.get(Tender, bid.tender_id)
    lot = session.get(Lot, bid.lot_id)
    assert tender is not None and lot is not None and user.organisation is not None
    # the tender's lock first, then the bid's: the order a completion takes them in (a replacement
    # supersedes this bid under the tender's lock), so the two wait for each other, never deadlock
    tender = get_tender(session, tender.code, for_update=True)
    bid = session.scalars(locked(select(Bid).where(Bid.id == bid.id))).one()
    now = clock.now()
    ensure_accepting(session, tender, now)
    if bid.status is not BidState.ACCEPTED:
        raise Conflict(f"该投标文件状态为“{bid.status.label}”，不能撤回", code="wrong_state")
    cert = registered_signing_cert(session, user, trust_store(session, keys))  # revoked UKeys cannot withdraw
    statement = bid_withdrawal_statement(tender.code, lot.number, user.organisation.credit_code, bid.ciphertext_sm3)
    check_signature(cert, statement, signature_b64, "撤回声明")
    confirmation = sign_statement(
        "bid_withdrawal",
        {
            "tender": tender.code,
            "lot": lot.number,
            "bidder": user.organisation.credit_code,
            "ciphertext_sm3": bid.ciphertext_sm3,
            "withdrawn_at": now.isoformat(),
        },
        key=keys.sign_key,
        cert=keys.sign_cert,
        now=now,
    )
    commitment = sm3_hex(confirmation.statement)
    move_bid(session, bid, BidState.WITHDRAWN, now=now, withdrawal=(signature_b64, commitment))
    return confirmation.to_json().decode()
