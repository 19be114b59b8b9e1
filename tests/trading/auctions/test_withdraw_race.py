"""A buyer's withdrawal and its own bid at the same instant, on PostgreSQL: the bid re-reads its
buyer under the lot's lock (which a withdrawal takes too), so a withdrawn and refunded buyer never
leads the lot, and the lot still ends."""

from __future__ import annotations

import base64
import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import select, update

from archive import clock
from signing.statements import auction_bid_statement
from tests.factories import api_token, make_user
from tests.races import locking_read, when_statement
from tests.trading.auctions.test_bidding import make_lot
from trading.accounts.models import Role, User
from trading.auctions import deposits, registrations
from trading.auctions.models import Auction, AuctionBid, AuctionState, DepositState, Registration, RegistrationState

pytestmark = pytest.mark.integration


def test_a_withdrawal_just_before_the_bids_lock_refuses_the_bid(pg_app: Flask) -> None:
    app = pg_app
    db, client = app.extensions["ggzy.db"], app.test_client()
    with db.session() as s:
        a, buyers = make_lot(s, app, "land_listing", buyers=2)
        now = clock.now()
        s.execute(
            update(Auction)
            .where(Auction.id == a.id)
            .values(
                state=AuctionState.LISTING,
                bidding_starts_at=now - dt.timedelta(hours=1),
                registration_ends_at=now + dt.timedelta(hours=1),
                free_ends_at=now + dt.timedelta(days=1),
            )
        )
        staff = make_user(s, Role.STAFF)
        s.commit()
        code, lot_id, staff_id = a.code, a.id, staff.id
    b = buyers[0]
    headers = api_token(client, b.keys.user.username)
    st = auction_bid_statement(code, b.number, "1000000.00", 0)
    body = {"amount": "1000000.00", "seen_seq": 0, "signature": base64.b64encode(b.keys.sign_key.sign(st)).decode()}

    def withdraw_and_refund() -> None:
        with db.session() as s2:
            reg = s2.scalars(
                select(Registration).where(Registration.auction_id == lot_id, Registration.bidding_number == b.number)
            ).one()
            registrations.withdraw(s2, s2.get(User, b.keys.user.id), reg)
            deposits.refund(s2, s2.get(User, staff_id), reg, "REFUND-1")
            s2.commit()

    with when_statement(app, locking_read("auction"), withdraw_and_refund, after=False) as fired:
        r = client.post(f"/api/v1/auctions/{code}/bids", json=body, headers=headers)
    assert fired[0]
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "not_a_buyer"
    with db.session() as s:
        reg = s.scalars(
            select(Registration).where(Registration.auction_id == lot_id, Registration.bidding_number == b.number)
        ).one()
        assert (reg.state, reg.deposit_state) == (RegistrationState.WITHDRAWN, DepositState.REFUNDED)
        assert s.scalar(select(AuctionBid.id).where(AuctionBid.auction_id == lot_id)) is None
        assert s.get(Auction, lot_id).leader_id is None  # type: ignore[union-attr]
