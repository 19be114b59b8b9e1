"""The end of a lot: the reserve revealed, sold or failed (流拍), the signed result (成交确认书).

The result is a platform-signed statement (``auction_result``) whose body holds everything a
replay needs to reach the same winner and price from the bids alone: the starting price, every
increment and the bid after which it applied, the countdown, the digest of every accepted bid, and
the reserve's price and salt that open the commitment published with the lot. The winner's deposit
becomes part of the price (39号令); the others' are due back by ``refund_due``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import SYSTEM, record_event
from archive.transparency import request_checkpoint
from signing.canonical import canonical_json
from signing.digest import sm3_hex
from signing.statements import SignedStatement, sign_statement
from trading.accounts.models import Organisation
from trading.auctions import deposits, reserve, rules
from trading.auctions.lifecycle import iso, move_auction
from trading.auctions.models import (
    Auction,
    AuctionBid,
    AuctionEvent,
    AuctionProcedure,
    AuctionState,
    DepositState,
    Registration,
)
from trading.core.platform_keys import key_encryption_key
from trading.core.services import Services
from trading.procedures.operations import overrides

STATEMENT_TYPE = "auction_result"
FORMAT = "ggzy-auction-result/1"


def increments_of(session: Session, a: Auction) -> list[dict[str, Any]]:
    """The increment in force from the first bid, then each change and the bid after which it applied."""
    changes = session.scalars(
        select(AuctionEvent)
        .where(AuctionEvent.auction_id == a.id, AuctionEvent.kind == "increment")
        .order_by(AuctionEvent.id)
    ).all()
    first = changes[0].payload["from"] if changes else rules.amount_text(a.increment)
    return [{"after_seq": 0, "increment": first}] + [
        {"after_seq": int(e.payload["after_seq"]), "increment": str(e.payload["to"])} for e in changes
    ]


def bid_digest_rows(bids: list[AuctionBid]) -> list[list[Any]]:
    return [
        [b.seq, b.bidding_number, rules.amount_text(b.amount), sm3_hex(b.statement.encode()), iso(b.accepted_at)]
        for b in bids
    ]


def finish(session: Session, services: Services, a: Auction, at: dt.datetime) -> None:
    """End ``a`` at ``at`` (the caller holds its lock): reveal the reserve, decide, sign, settle."""
    proc = session.get(AuctionProcedure, a.procedure_code)
    assert proc is not None
    if a.reserve_sm3 is not None and a.reserve_box is not None:
        a.reserve_price, a.reserve_salt = reserve.open_box(
            key_encryption_key(services.settings), a.reserve_sm3, a.reserve_box
        )
        a.reserve_box = None
    is_sold = rules.sold(a.current_price, a.reserve_price)
    winner = session.get(Registration, a.leader_id) if is_sold and a.leader_id is not None else None
    org = session.get(Organisation, winner.org_id) if winner is not None else None
    bids = list(session.scalars(select(AuctionBid).where(AuctionBid.auction_id == a.id).order_by(AuctionBid.seq)))
    days = overrides(session)
    refund_due = rules.refund_due(at, proc, days)
    a.publicity_ends_at = rules.publicity_end(at, proc, days)
    a.final_price = a.current_price if is_sold else None
    body = {
        "format": FORMAT,
        "auction": a.code,
        "title": a.title,
        "procedure": proc.code,
        "method": proc.method.value,
        "category": a.category,
        "transferor": a.transferor,
        "starting_price": rules.amount_text(a.starting_price),
        "countdown_seconds": a.countdown_seconds,
        "increments": increments_of(session, a),
        "outcome": "sold" if is_sold else "failed",
        "reason": None if is_sold else ("no_bid" if a.current_price is None else "below_reserve"),
        "final_price": rules.amount_text(a.final_price) if a.final_price is not None else None,
        "highest": rules.amount_text(a.current_price) if a.current_price is not None else None,
        "winner": (
            {"bidding_number": winner.bidding_number, "name": org.name, "credit_code": org.credit_code}
            if winner is not None and org is not None
            else None
        ),
        "bids": len(bids),
        "bids_sm3": sm3_hex(canonical_json(bid_digest_rows(bids))),
        "reserve": (
            {"sm3": a.reserve_sm3, "price": rules.amount_text(a.reserve_price), "salt": a.reserve_salt}
            if a.reserve_sm3 is not None and a.reserve_price is not None
            else None
        ),
        "ended_at": at.isoformat(),
        "publicity_ends_at": iso(a.publicity_ends_at) if is_sold else None,
        "refund_due": refund_due.isoformat(),
    }
    keys = services.keys
    st = sign_statement(STATEMENT_TYPE, body, key=keys.sign_key, cert=keys.sign_cert, now=at)
    a.result_statement = st.to_json().decode()
    a.result_sm3 = sm3_hex(st.to_json())
    to = AuctionState.SOLD if is_sold else AuctionState.FAILED
    move_auction(
        session,
        SYSTEM,
        a,
        to,
        at=at,
        final_price=body["final_price"],
        reason=body["reason"],
        winner_number=winner.bidding_number if winner else None,
        result_sm3=a.result_sm3,
    )
    if a.reserve_sm3 is not None:
        record_event(session, SYSTEM, "auction.reserve_reveal", a, body["reserve"])
    if winner is not None and winner.deposit_state is DepositState.CONFIRMED:
        # a deposit that cannot be converted (never, while bids re-check their buyer under the lot's
        # lock) must not keep the lot from ending: staff settle it by hand, from the audit trail
        deposits.convert_winner(session, SYSTEM, winner, at)
    request_checkpoint(session, "auction_end", f"auction:{a.code}")


def result_body(a: Auction) -> dict[str, Any] | None:
    """The signed result's body, once the lot has ended (None before)."""
    if a.result_statement is None:
        return None
    body: dict[str, Any] = SignedStatement.from_json(a.result_statement.encode()).body
    return body
