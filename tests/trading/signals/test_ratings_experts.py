"""标后评价 over the API: who may rate which expert and when, one rating per rater role, reasons for
low marks, and the suspension an expert's low standing writes to the credit register, which the
draw reads (``credit.checks.draw_suspensions``).

The lot is opened and its committee drawn and seated through the real operations; the sign-in and
the signed report are then set on the rows (the room's own tests cover them), so a test takes a
few seconds."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from tests.factories import api_token, csrf_from, draw_and_confirm, make_user, open_room_of, page_login
from tests.trading.test_draw import _experts, opened_lot
from trading.accounts.models import Organisation, OrgKind, Role
from trading.core.services import services
from trading.credit.checks import draw_suspensions
from trading.credit.models import CreditEntry, CreditList, Measure, SubjectKind
from trading.evaluation.models import EvalState, Evaluation, Expert, ExpertKind, Seat
from trading.signals import ratings as rules

GOOD = {"punctuality": 5, "diligence": 4, "quality": 4, "discipline": 5}
POOR = {
    "punctuality": 1,
    "diligence": 2,
    "quality": 2,
    "discipline": 1,
    "reasons": "迟到一小时，评审中多次离席，评分理由空缺",
}


@dataclass
class World:
    t: dict[str, Any]
    ev: int
    experts: list[int]  # the sitting pool experts
    at: dt.datetime

    @property
    def url(self) -> str:
        return f"/api/v1/evaluations/{self.ev}/ratings"


def seated_lot(client: FlaskClient, session: Session, app: Flask, *, reported: bool = True) -> World:
    """An opened lot whose drawn committee sat (signed in); the report signed when ``reported``."""
    t = opened_lot(client, session, app)
    _experts(session, t)
    at = t["deadline"] + dt.timedelta(hours=4)
    with clock.frozen(at):
        draw_and_confirm(session, app, t)
        ev_id = open_room_of(session, app, t)
    seats = list(session.scalars(select(Seat).where(Seat.evaluation_id == ev_id).order_by(Seat.id)))
    for s in seats:
        s.signed_in_at = at
    if reported:
        ev = session.get_one(Evaluation, ev_id)
        ev.state, ev.report_statement, ev.reported_at = EvalState.REPORTED, "{}", at + dt.timedelta(hours=3)
    session.commit()
    return World(t, ev_id, [s.expert_id for s in seats], at + dt.timedelta(hours=4))


def test_staff_and_the_tenderee_each_rate_each_sitting_expert_once(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    w = seated_lot(client, session, app)
    hs, ht = w.t["staff"], w.t["tenderee"]
    x = w.experts[0]
    with clock.frozen(w.at):
        r = client.post(w.url, json={"expert_id": x, **GOOD}, headers=hs)
        assert r.status_code == 201, r.get_json()
        body = r.get_json()
        assert body["rating"]["role"] == "staff" and body["rating"]["average"] == "4.50"
        assert body["suspension"] is None
        assert client.post(w.url, json={"expert_id": x, **GOOD}, headers=ht).status_code == 201  # as the tenderee
        again = client.post(w.url, json={"expert_id": x, **GOOD}, headers=hs)
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_rated"
    listing = client.get(w.url, headers=ht).get_json()
    assert listing["open"] and listing["my_role"] == "tenderee"
    assert {e["id"] for e in listing["experts"]} == set(w.experts)
    assert sorted(next(e for e in listing["experts"] if e["id"] == x)["rated_by"]) == ["staff", "tenderee"]
    assert [q["role"] for q in listing["ratings"]] == ["staff", "tenderee"]
    supervisor = api_token(client, make_user(session, Role.SUPERVISOR).username)
    assert client.get(w.url, headers=supervisor).get_json()["my_role"] is None  # reads, does not rate
    assert client.post(w.url, json={"expert_id": x, **GOOD}, headers=supervisor).status_code == 403
    ev = session.scalars(select(AuditEvent).where(AuditEvent.action == "expert_rating.rate")).all()
    assert len(ev) == 2
    # the page shows the forms for the experts still to rate, and links the room
    with clock.frozen(w.at):
        page_login(client, w.t["staff_username"])
        assert f'href="/evaluations/{w.ev}/ratings"' in client.get(f"/evaluations/{w.ev}").text  # the room links it
        page_login(client, w.t["tenderee_username"])
        page = client.get(f"/evaluations/{w.ev}/ratings")
        assert page.status_code == 200 and "提交评价" in page.text and f"/evaluations/{w.ev}" in page.text
        form = {"csrf_token": csrf_from(page.text), "expert_id": str(w.experts[1]), **{k: "2" for k in GOOD}}
        form["reasons"] = "太短"
        refused = client.post(f"/evaluations/{w.ev}/ratings", data=form)  # too short a reason for the 2s
        # named, and shown again as it was typed: a second submit must not send the defaults
        assert refused.status_code == 422 and "未提交" in refused.text and ">太短</textarea>" in refused.text
        assert refused.text.count('<option value="2" selected>') == len(GOOD)
        form["reasons"] = "评审过程中多次离席，评分说明不充分"
        assert client.post(f"/evaluations/{w.ev}/ratings", data=form).status_code == 302
    assert len(client.get(w.url, headers=ht).get_json()["ratings"]) == 3


def test_who_may_not_rate_and_when(client: FlaskClient, session: Session, app: Flask) -> None:
    w = seated_lot(client, session, app, reported=False)
    hs, x = w.t["staff"], w.experts[0]
    with clock.frozen(w.at):
        r = client.post(w.url, json={"expert_id": x, **GOOD}, headers=hs)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "evaluation_not_reported"
        other = api_token(client, make_user(session, Role.TENDEREE).username)  # another tender's tenderee
        assert client.post(w.url, json={"expert_id": x, **GOOD}, headers=other).status_code == 404
        assert client.get(w.url, headers=other).status_code == 404
        assert client.post(w.url, json={"expert_id": x, **GOOD}, headers=w.t["headers"][0]).status_code == 403
        assert client.get(w.url, headers=w.t["headers"][0]).status_code == 403  # a bidder sees nothing
        assert (
            client.post("/api/v1/evaluations/999999/ratings", json={"expert_id": x, **GOOD}, headers=hs).status_code
            == 404
        )
        ev = session.get_one(Evaluation, w.ev)
        ev.state, ev.report_statement = EvalState.PUBLICITY, "{}"
        recused = session.scalars(select(Seat).where(Seat.evaluation_id == w.ev, Seat.expert_id == w.experts[1])).one()
        recused.recused_at = w.at
        rep = Expert(
            kind=ExpertKind.REPRESENTATIVE, name="招标人代表", specialties=[], region="350100",
            employer="91350100MA00000001", history=[], relations=[], updated_at=w.at,
        )  # fmt: skip
        session.add(rep)
        session.flush()
        session.add(Seat(evaluation_id=w.ev, expert_id=rep.id, representative=True, signed_in_at=w.at))
        session.commit()
        for who in (w.experts[1], rep.id, 999_999):
            r = client.post(w.url, json={"expert_id": who, **GOOD}, headers=hs)
            assert r.status_code == 422 and r.get_json()["error"]["code"] == "expert_not_sitting", who
        assert client.post(w.url, json={"expert_id": x, **GOOD}, headers=hs).status_code == 201


BAD_MARKS: list[tuple[dict[str, Any], str]] = [
    ({**GOOD, "discipline": 2}, "reasons"),  # below 3 without a reason
    ({**GOOD, "discipline": 2, "reasons": "不好"}, "reasons"),  # too short
    ({**GOOD, "quality": 6}, "quality"),
    ({**GOOD, "quality": "五"}, "quality"),
    ({**GOOD, "reasons": "长" * 501}, "reasons"),
    ({**GOOD, "extra": 1}, "extra"),
    ({**GOOD, "reasons": "理由\x00足够长的一段说明文字"}, "reasons"),
]


def test_bad_marks_are_refused_by_field_and_nothing_is_written(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    w = seated_lot(client, session, app)
    with clock.frozen(w.at):
        for body, field in BAD_MARKS:
            r = client.post(w.url, json={"expert_id": w.experts[0], **body}, headers=w.t["staff"])
            assert r.status_code == 422, (body, r.get_json())
            assert field in r.get_json()["error"].get("fields", {}) or r.get_json()["error"]["code"] == "nul_character"
        assert (
            client.post(w.url, data="[", headers=w.t["staff"] | {"Content-Type": "application/json"}).status_code == 400
        )
    assert session.scalar(select(AuditEvent.seq).where(AuditEvent.action == "expert_rating.rate")) is None


def test_a_low_standing_suspends_the_expert_from_draws_through_the_credit_register(
    client: FlaskClient, session: Session, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(services(app).settings.ratings, rules.ENV_WINDOW, "2")
    monkeypatch.setitem(services(app).settings.ratings, rules.ENV_DAYS, "30")
    w = seated_lot(client, session, app)
    hs, ht = w.t["staff"], w.t["tenderee"]
    low, edge = w.experts[0], w.experts[1]
    with clock.frozen(w.at):
        first = client.post(w.url, json={"expert_id": low, **POOR}, headers=hs).get_json()
        assert first["suspension"] is None  # one rating: no standing yet (window 2)
        second = client.post(w.url, json={"expert_id": low, **POOR}, headers=ht).get_json()
        assert second["suspension"] is not None, second
        # exactly at the threshold: 3.0 is not below 3.0
        at3 = {"punctuality": 3, "diligence": 3, "quality": 3, "discipline": 3}
        client.post(w.url, json={"expert_id": edge, **at3}, headers=hs)
        assert client.post(w.url, json={"expert_id": edge, **at3}, headers=ht).get_json()["suspension"] is None
    entry = session.get_one(CreditEntry, second["suspension"]["credit_entry"])
    assert (entry.subject_kind, entry.subject_id, entry.list_kind, entry.measure, entry.region) == (
        SubjectKind.EXPERT,
        str(low),
        CreditList.PLATFORM,
        Measure.DRAW_SUSPENSION,
        "000000",
    )
    assert entry.source == "rating" and entry.source_ref == f"rating:{low}:{second['rating']['id']}"
    assert entry.document_no == f"标后评价 {first['rating']['id']},{second['rating']['id']}"
    center = session.scalars(select(Organisation).where(Organisation.kind == OrgKind.TRADING_CENTER)).first()
    assert center is not None and entry.authority == center.name  # the center decides, not a person
    day = clock.local(w.at).date()
    assert (entry.starts_on, entry.ends_on) == (day, day + dt.timedelta(days=29))
    assert session.scalar(select(AuditEvent.seq).where(AuditEvent.action == "credit.entry_added")) is not None
    # the draw's pool reads it: out until the last day, back the day after
    held = draw_suspensions(session, w.experts, day, w.at)
    assert held == {low: day + dt.timedelta(days=29)}
    assert draw_suspensions(session, w.experts, day + dt.timedelta(days=30), w.at) == {}
