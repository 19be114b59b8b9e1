"""Lots for auction tests, made through the setup stage's real operations (draft, documents, publish).

``published_lot(session, app)`` gives an announced lot whose periods satisfy its procedure as of the
platform clock's now: bidding starts at 09:00 Beijing time 21 days ahead (a listing runs 11 days,
then ends at 15:00; a property transfer's disclosure runs 30 working days to its registration's
end). Pass ``reserve_price="…"`` for a committed reserve, ``documents={"name": b"bytes"}`` for files,
and any field of ``AuctionIn`` (``starting_price="…"``, ``bidding_starts_at=…``) to override it.
Tests that need the bidding to have started freeze the clock at ``lot.bidding_starts_at``.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import make_user
from trading.accounts.models import Role, User
from trading.auctions import documents, setup
from trading.auctions.models import Auction, AuctionProcedure, Method
from trading.auctions.schemas import AuctionIn
from trading.core.schemas import parse
from trading.core.services import services
from trading.procedures.calendar import add_days
from trading.procedures.models import DayKind
from trading.procedures.operations import overrides

SHANGHAI = dt.timezone(dt.timedelta(hours=8))


def beijing(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """``hour``:``minute`` Beijing time on ``day``, as a UTC instant."""
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=SHANGHAI).astimezone(dt.UTC)


def periods_for(session: Session, procedure: str, now: dt.datetime | None = None) -> dict[str, dt.datetime | None]:
    """Periods that satisfy ``procedure`` if the lot is published at ``now`` (default: the clock's)."""
    proc = session.get(AuctionProcedure, procedure)
    assert proc is not None, procedure
    now = now or clock.now()
    today = clock.local(now).date()
    if proc.day_kind == DayKind.WORKING.value and proc.min_listing_days:
        # 32号令 第十三条: the disclosure (announcement → registration's end), here 30 working days
        closes = add_days(beijing(today, 17), 30, DayKind.WORKING, overrides(session))
        start = beijing(clock.local(closes).date() + dt.timedelta(days=1), 9)
        return {"registration_ends_at": closes, "bidding_starts_at": start, "free_ends_at": None}
    start = add_days(beijing(today, 9), proc.min_announcement_days + 1, DayKind(proc.day_kind), overrides(session))
    if proc.method is Method.LISTING:
        ends = beijing(clock.local(start).date() + dt.timedelta(days=proc.min_listing_days + 1), 15)
        return {"registration_ends_at": ends - dt.timedelta(days=2), "bidding_starts_at": start, "free_ends_at": ends}
    return {"registration_ends_at": start - dt.timedelta(hours=16), "bidding_starts_at": start, "free_ends_at": None}


def lot_body(session: Session, procedure: str = "land_auction", **over: Any) -> dict[str, Any]:
    """A JSON body for ``POST /api/v1/auctions`` (times as ISO strings)."""
    times = {k: v.isoformat() for k, v in periods_for(session, procedure).items() if v is not None}
    body: dict[str, Any] = {
        "title": "福州市鼓楼区某地块国有建设用地使用权",
        "procedure_code": procedure,
        "region": "350102",
        "transferor": "福州市自然资源和规划局",
        "description": "出让面积 12000 平方米，住宅用地，出让年限 70 年。",
        "qualification": "境内法人和其他组织均可申请。",
        "starting_price": "1000000.00",
        "increment": "10000.00",
        "deposit": "200000.00",
        **times,
    }
    for k, v in over.items():
        body[k] = v.isoformat() if isinstance(v, dt.datetime) else v
    return {k: v for k, v in body.items() if v is not None}


def staff_user(session: Session) -> User:
    return make_user(session, Role.STAFF)


def draft_lot(
    session: Session,
    procedure: str = "land_auction",
    *,
    staff: User | None = None,
    documents_: dict[str, bytes] | None = None,
    app: Flask | None = None,
    **over: Any,
) -> Auction:
    """A draft lot (with ``documents_`` uploaded to ``app``'s object store)."""
    staff = staff or staff_user(session)
    a = setup.create_draft(session, staff, parse(AuctionIn, lot_body(session, procedure, **over)))
    for name, data in (documents_ or {}).items():
        assert app is not None, "documents need the app's object store"
        documents.upload_document(session, services(app).store, staff, a, name, io.BytesIO(data))
    return a


def published_lot(
    session: Session,
    app: Flask,
    procedure: str = "land_auction",
    *,
    reserve_price: str | None = None,
    staff: User | None = None,
    documents: dict[str, bytes] | None = None,
    **over: Any,
) -> Auction:
    """An announced lot, published through ``setup.publish`` (reserve committed, announcement signed)."""
    staff = staff or staff_user(session)
    a = draft_lot(session, procedure, staff=staff, documents_=documents, app=app, **over)
    return setup.publish(session, services(app), staff, a.code, reserve_price)
