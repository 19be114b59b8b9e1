"""Buyers for auction tests, made through the real operations: apply (with its credit check),
staff's review (the drawn bidding number) and the deposit's confirmation.

``approved_buyers(session, app, lot, n, client=client)`` gives what a test needs to sign and send
bids: the user, its keys (``keys.sign_key``, ``keys.sign_cert``), its bidding number, its
registration and, with a client, its API headers. ``make_lot`` makes a lot directly in the tables
(until the setup stage's operations can), announced, its registration open for ``open_for``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from signing.sm2 import PrivateKey
from tests.factories import BidderKeys, api_token, make_bidder_with_keys, make_user, platform_keys
from trading.accounts.models import Role, User
from trading.auctions import deposits, registrations
from trading.auctions.models import Auction, AuctionProcedure, AuctionState, Registration

_codes = itertools.count(1)


@dataclass
class Buyer:
    user: User
    keys: BidderKeys
    bidding_number: str
    registration: Registration
    headers: dict[str, str]  # the API's bearer token ({} without a client)

    @property
    def sign_key(self) -> PrivateKey:
        return self.keys.sign_key


def make_lot(
    session: Session,
    *,
    procedure: str = "land_auction",
    state: AuctionState = AuctionState.ANNOUNCED,
    open_for: dt.timedelta = dt.timedelta(days=5),
    deposit: str = "200000.00",
    staff: User | None = None,
    code: str | None = None,
) -> Auction:
    """A lot in ``state`` whose registration ends ``open_for`` from now (negative: it has ended),
    bidding an hour later, free bidding for an hour after that."""
    proc = session.get(AuctionProcedure, procedure)
    assert proc is not None, procedure
    staff = staff or make_user(session, Role.STAFF)
    now = clock.now().replace(microsecond=0)
    ends = now + open_for
    a = Auction(
        code=code or f"PM-B-{next(_codes):04d}",
        title="测试宗地（竞买申请）",
        procedure_code=procedure,
        category=proc.category,
        region="350100",
        transferor="某市自然资源局",
        qualification="中华人民共和国境内的法人和其他组织",
        starting_price=Decimal("1000000.00"),
        increment=Decimal("10000.00"),
        deposit=Decimal(deposit),
        countdown_seconds=proc.countdown_seconds,
        announced_at=None if state is AuctionState.DRAFT else now - dt.timedelta(days=21),
        registration_ends_at=ends,
        bidding_starts_at=ends + dt.timedelta(hours=1),
        free_ends_at=ends + dt.timedelta(hours=2),
        state=state,
        created_by=staff.id,
        created_at=now - dt.timedelta(days=22),
    )
    session.add(a)
    session.flush()
    return a


@contextlib.contextmanager
def while_open(a: Auction) -> Iterator[None]:
    """Run the registration steps at a time the registration was open: now if it is, else a
    minute before its deadline (which must be after the test certificates were issued)."""
    ends = clock.as_utc(a.registration_ends_at)
    if clock.now() < ends:
        yield
        return
    with clock.frozen(ends - dt.timedelta(minutes=1)):
        yield


def approved_buyers(
    session: Session,
    app: Flask,
    a: Auction,
    n: int,
    *,
    client: FlaskClient | None = None,
    staff: User | None = None,
    confirmed: bool = True,
) -> list[Buyer]:
    """``n`` buyers with signing keys, each applied, approved (a drawn bidding number) and, unless
    ``confirmed`` is false, with its deposit confirmed: they may bid. Committed (the test's outer
    transaction still rolls everything back)."""
    staff = staff or make_user(session, Role.STAFF)
    keys = platform_keys(app)
    out = []
    for i in range(n):
        k = make_bidder_with_keys(session, app)
        with while_open(a):
            reg = registrations.apply(session, k.user, a, f"联系人{i + 1}", "0591-88880000", keys=keys)
            registrations.review(session, staff, reg, True, "")
            if confirmed:
                deposits.confirm(session, staff, reg, f"BANK-{a.code}-{i + 1}")
        assert reg.bidding_number is not None
        out.append(Buyer(k.user, k, reg.bidding_number, reg, {}))
    session.commit()
    if client is not None:
        for b in out:
            b.headers = api_token(client, b.user.username)
    return out
