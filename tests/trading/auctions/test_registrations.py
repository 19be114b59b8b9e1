"""Registrations (竞买申请) through the API: the moves allowed and refused, the review with its drawn
bidding number (unique, also when two approvals draw the same), who may do what, each bad input
as a named 4xx, and a credit-barred buyer refused with the evidence kept."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent
from tests.factories import api_token, make_user
from tests.trading.auctions.helpers_buyers import approved_buyers, make_lot
from trading.accounts.models import Role, User
from trading.auctions import registrations, rules
from trading.auctions.models import AuctionBid, AuctionState, Phase, Registration, RegistrationState
from trading.credit.entries import NewEntry, add_entry
from trading.credit.models import CheckPurpose, CreditCheck, CreditList, Measure, SubjectKind

R = RegistrationState
EVERY_MOVE = [(a, b) for a in RegistrationState for b in RegistrationState]


def token(client: FlaskClient, session: Session, role: Role) -> tuple[User, dict[str, str]]:
    user = make_user(session, role)
    session.commit()
    return user, api_token(client, user.username)


def upload(client: FlaskClient, h: dict[str, str], code: str, name: str, data: bytes) -> Any:
    boundary = "auction-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return client.post(
        f"/api/v1/auctions/{code}/registration/documents",
        data=body,
        headers=h,
        content_type=f"multipart/form-data; boundary={boundary}",
    )


def error(r: Any) -> tuple[int, str]:
    return r.status_code, r.get_json()["error"]["code"]


@pytest.mark.parametrize(("frm", "to"), EVERY_MOVE, ids=[f"{a.value}-{b.value}" for a, b in EVERY_MOVE])
def test_each_move_is_allowed_exactly_as_the_table_says(app: Flask, session: Session, frm: R, to: R) -> None:
    a = make_lot(session)
    (b,) = approved_buyers(session, app, a, 1, confirmed=False)
    reg = b.registration
    reg.state = frm  # the starting point of the move under test
    session.flush()
    events = session.scalar(select(func.count()).select_from(AuditEvent))
    if to in registrations.MOVES[frm]:
        registrations.move_registration(session, SYSTEM, reg, to, at=clock.now())
        assert reg.state is to
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == (events or 0) + 1
    else:
        with pytest.raises(registrations.RegistrationMoveRefused):
            registrations.move_registration(session, SYSTEM, reg, to, at=clock.now())
        assert reg.state is frm
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == events


def test_a_buyer_applies_uploads_is_approved_and_pays(client: FlaskClient, session: Session, app: Flask) -> None:
    a = make_lot(session)
    session.commit()
    buyer, hb = token(client, session, Role.BIDDER)
    staff, hs = token(client, session, Role.STAFF)
    r = client.post(f"/api/v1/auctions/{a.code}/registrations", json={"contact_name": "王五"}, headers=hb)
    assert r.status_code == 201, r.get_json()
    own = r.get_json()
    assert (own["state"], own["bidding_number"], own["deposit_state"], own["may_bid"]) == (
        "submitted",
        None,
        "unpaid",
        False,
    )
    assert own["deposit"] == "200000.00"
    up = upload(client, hb, a.code, "营业执照.pdf", b"%PDF licence")
    assert up.status_code == 201, up.get_json()
    doc = up.get_json()
    assert doc["size"] == 12 and len(doc["sm3"]) == 64

    # the staff read the document and approve: a number is drawn
    got = client.get(f"/api/v1/auction-registrations/{own['id']}/documents/{doc['id']}", headers=hs)
    assert got.status_code == 200 and got.data == b"%PDF licence"
    r = client.post(f"/api/v1/auction-registrations/{own['id']}/review", json={"approve": True}, headers=hs)
    assert r.status_code == 200, r.get_json()
    number = r.get_json()["bidding_number"]
    lo, hi = rules.NUMBER_RANGE
    assert number is not None and lo <= int(number) <= hi
    assert r.get_json()["org_name"] == buyer.organisation.name  # type: ignore[union-attr]

    r = client.post(f"/api/v1/auctions/{a.code}/registration/deposit", json={"reference": "ICBC-1"}, headers=hb)
    assert r.status_code == 200 and r.get_json()["deposit_state"] == "reported"
    r = client.post(
        f"/api/v1/auction-registrations/{own['id']}/deposit/confirm", json={"reference": "到账1"}, headers=hs
    )
    assert r.status_code == 200, r.get_json()
    mine = client.get(f"/api/v1/auctions/{a.code}/registration", headers=hb).get_json()
    assert (mine["bidding_number"], mine["may_bid"]) == (number, True)
    assert [e["kind"] for e in mine["deposit_entries"]] == ["reported", "confirmed"]
    listing = client.get(f"/api/v1/auctions/{a.code}/registrations", headers=hs).get_json()
    assert listing["counts"] == {"applied": 1, "approved": 1, "may_bid": 1}
    assert staff.id  # the reviewer is on record
    assert session.get(Registration, own["id"]).reviewed_by == staff.id  # type: ignore[union-attr]


def test_bad_input_is_named(client: FlaskClient, session: Session, app: Flask, monkeypatch: Any) -> None:
    a = make_lot(session)
    draft = make_lot(session, state=AuctionState.DRAFT)
    closed = make_lot(session, open_for=dt.timedelta(minutes=-1))
    session.commit()
    _, hb = token(client, session, Role.BIDDER)
    _, hs = token(client, session, Role.STAFF)
    url = f"/api/v1/auctions/{a.code}/registrations"
    assert error(client.post("/api/v1/auctions/NOPE-1/registrations", json={}, headers=hb)) == (
        404,
        "auction_not_found",
    )
    assert error(client.post(f"/api/v1/auctions/{draft.code}/registrations", json={}, headers=hb)) == (
        404,
        "auction_not_found",
    )
    assert error(client.post(f"/api/v1/auctions/{closed.code}/registrations", json={}, headers=hb)) == (
        409,
        "registration_closed",
    )
    bad = client.post(url, data="{nope", headers=hb, content_type="application/json")
    assert error(bad) == (400, "malformed_json")
    assert error(client.post(url, data="x", headers=hb, content_type="text/plain")) == (415, "unsupported_media_type")
    assert client.post(url, json={"contact_phone": "call me"}, headers=hb).status_code == 422
    assert client.post(url, json={"contact_name": "王\n五"}, headers=hb).status_code == 422
    assert client.post(url, json={"extra": 1}, headers=hb).status_code == 422
    assert client.post(url, headers=hb).status_code == 201  # no body: no contact
    assert error(client.post(url, json={}, headers=hb)) == (409, "already_registered")

    reg_id = client.get(f"/api/v1/auctions/{a.code}/registration", headers=hb).get_json()["id"]
    deposit = f"/api/v1/auctions/{a.code}/registration/deposit"
    assert error(client.post(deposit, json={"reference": "x" * 101}, headers=hb))[0] == 422
    assert error(client.post(deposit, json={"reference": ""}, headers=hb))[0] == 422
    assert error(client.post(deposit, json={}, headers=hb))[0] == 422
    review = f"/api/v1/auction-registrations/{reg_id}/review"
    assert error(client.post(review, json={"approve": "yes"}, headers=hs))[0] == 422
    assert error(client.post(review, json={"approve": False}, headers=hs)) == (422, "invalid_input")
    assert error(client.post(review, json={"approve": False, "reason": "x" * 501}, headers=hs))[0] == 422
    assert error(client.post("/api/v1/auction-registrations/99999999/review", json={"approve": True}, headers=hs)) == (
        404,
        "registration_not_found",
    )
    assert error(upload(client, hb, a.code, "a/b.pdf", b"x"))[0] == 422
    assert error(upload(client, hb, a.code, "空.pdf", b"")) == (422, "invalid_input")
    monkeypatch.setattr(registrations, "MAX_DOCUMENT_BYTES", 1024)
    assert error(upload(client, hb, a.code, "大.pdf", b"x" * 2048)) == (422, "object_too_large")
    r = client.post(f"/api/v1/auctions/{a.code}/registration/documents", json={"file": "x"}, headers=hb)
    assert error(r) == (415, "unsupported_media_type")

    # a rejection is final; a second review is a named conflict
    assert client.post(review, json={"approve": False, "reason": "材料不全"}, headers=hs).status_code == 200
    assert error(client.post(review, json={"approve": True}, headers=hs)) == (409, "registration_transition")
    assert error(upload(client, hb, a.code, "补充.pdf", b"more")) == (409, "registration_closed")


def test_who_may_do_what(client: FlaskClient, session: Session, app: Flask) -> None:
    a = make_lot(session)
    mine, other = approved_buyers(session, app, a, 2, client=client, confirmed=False)
    _, hsup = token(client, session, Role.SUPERVISOR)
    _, hten = token(client, session, Role.TENDEREE)
    reg = mine.registration.id
    up = upload(client, mine.headers, a.code, "委托书.pdf", b"power of attorney")
    assert up.status_code == 409  # approved already: no more documents
    # a bidder cannot review, confirm or refund, nor read the list
    for path, body in (
        (f"/api/v1/auction-registrations/{reg}/review", {"approve": True}),
        (f"/api/v1/auction-registrations/{reg}/deposit/confirm", {"reference": "R"}),
        (f"/api/v1/auction-registrations/{reg}/deposit/refund", {"reference": "R"}),
    ):
        assert error(client.post(path, json=body, headers=other.headers)) == (403, "forbidden")
        assert error(client.post(path, json=body, headers=hsup)) == (403, "forbidden")  # supervisors read only
    assert error(client.get(f"/api/v1/auctions/{a.code}/registrations", headers=other.headers)) == (403, "forbidden")
    assert error(client.get(f"/api/v1/auctions/{a.code}/registrations", headers=hten)) == (403, "forbidden")
    assert error(client.get(f"/api/v1/auctions/{a.code}/registrations")) == (401, "unauthenticated")
    assert error(client.post(f"/api/v1/auctions/{a.code}/registrations", json={}, headers=hsup)) == (403, "forbidden")
    listing = client.get(f"/api/v1/auctions/{a.code}/registrations", headers=hsup)
    assert listing.status_code == 200 and len(listing.get_json()["items"]) == 2

    # another organisation sees only its own application, never mine
    theirs = client.get(f"/api/v1/auctions/{a.code}/registration", headers=other.headers).get_json()
    assert theirs["id"] == other.registration.id and theirs["bidding_number"] == other.bidding_number
    assert mine.bidding_number not in str(theirs)
    assert error(client.get(f"/api/v1/auction-registrations/{reg}/documents/1", headers=other.headers)) == (
        404,
        "registration_not_found",
    )
    client.post(f"/api/v1/auctions/{a.code}/registration/withdraw", headers=other.headers)
    session.expire_all()
    assert session.get(Registration, reg).state is R.APPROVED  # type: ignore[union-attr]


def test_withdrawal_before_the_deadline_and_before_any_bid(client: FlaskClient, session: Session, app: Flask) -> None:
    a = make_lot(session, open_for=dt.timedelta(hours=1))
    first, second, third = approved_buyers(session, app, a, 3, client=client)
    session.add(
        AuctionBid(
            auction_id=a.id,
            seq=1,
            registration_id=second.registration.id,
            bidding_number=second.bidding_number,
            amount=a.starting_price,
            seen_seq=0,
            phase=Phase.LISTING,
            statement="{}",
            signature="",
            signer_cert="",
            accepted_at=clock.now(),
        )
    )
    session.commit()
    url = f"/api/v1/auctions/{a.code}/registration/withdraw"
    r = client.post(url, headers=first.headers)
    assert r.status_code == 200 and r.get_json()["state"] == "withdrawn"
    assert error(client.post(url, headers=first.headers)) == (409, "registration_transition")
    assert error(client.post(url, headers=second.headers)) == (409, "already_bid")
    with clock.frozen(clock.now() + dt.timedelta(hours=2)):
        assert error(client.post(url, headers=third.headers)) == (409, "registration_closed")


def test_two_approvals_drawing_the_same_number_both_end_with_their_own(
    session: Session, app: Flask, monkeypatch: Any
) -> None:
    """The stand-in for two staff approving at once: the draw ignores a number the other approval
    has just taken (as a concurrent transaction's would be unseen), the unique constraint refuses
    it, and the savepoint's retry draws another."""
    staff = make_user(session, Role.STAFF)
    a = make_lot(session, staff=staff)
    (first,) = approved_buyers(session, app, a, 1, staff=staff)
    (late,) = approved_buyers(session, app, a, 1, staff=staff, confirmed=False)
    late.registration.state = R.SUBMITTED
    late.registration.bidding_number = None
    session.flush()
    other = "9999" if first.bidding_number != "9999" else "9998"
    draws = [first.bidding_number, first.bidding_number, other]
    monkeypatch.setattr(rules, "draw_number", lambda taken: draws.pop(0))
    registrations.review(session, staff, late.registration, True, "")
    assert late.registration.bidding_number == other and draws == []  # refused twice, then drawn
    assert late.registration.state is R.APPROVED
    numbers = session.scalars(select(Registration.bidding_number).where(Registration.auction_id == a.id)).all()
    assert sorted(numbers) == sorted({*numbers})


def barred(session: Session, credit_code: str) -> None:
    entry = NewEntry(
        subject_kind=SubjectKind.ORGANISATION,
        subject_id=credit_code,
        subject_name="某失信企业",
        list_kind=CreditList.DISHONEST_DEBTORS,
        measure=Measure.BAR_BIDDING,
        region="350000",
        category=None,
        starts_on=dt.date(2026, 1, 1),
        ends_on=None,
        authority="福州市中级人民法院",
        document_no="（2026）闽01执1号",
        facts="有履行能力而拒不履行生效法律文书确定的义务",
        source="dishonest_debtors",
        source_ref=f"SX-{credit_code}",
    )
    add_entry(session, SYSTEM, entry, user_id=None, import_id=None, now=clock.now())
    session.commit()


def test_a_credit_barred_buyer_is_refused_and_the_check_is_kept(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    a = make_lot(session)
    session.commit()
    user, hb = token(client, session, Role.BIDDER)
    assert user.organisation is not None
    barred(session, user.organisation.credit_code)
    r = client.post(f"/api/v1/auctions/{a.code}/registrations", json={}, headers=hb)
    assert error(r) == (409, "credit_barred")
    body = r.get_json()["error"]
    assert "福州市中级人民法院" in body["message"] and body["credit_check_sm3"]
    session.expire_all()
    check = session.scalar(select(CreditCheck).where(CreditCheck.tender_code == a.code))
    assert check is not None and check.barred and check.purpose is CheckPurpose.REGISTRATION
    assert check.statement_sm3 == body["credit_check_sm3"]
    assert session.scalar(select(Registration).where(Registration.auction_id == a.id)) is None
    refused = session.scalar(select(AuditEvent).where(AuditEvent.action == "auction_registration.refused"))
    assert refused is not None and a.code in refused.payload
