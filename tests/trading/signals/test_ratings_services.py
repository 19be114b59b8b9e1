"""好差评 over the API and the pages: who may rate which service and from when, once per
organisation, bad input; a 差评's supervision clock (started by the rating, stopped by the center's
answer, red when late); a complaint's handling rated through the supervision stage's hooks; the
public aggregates and the escaping of hostile text."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent
from tests.factories import api_token, make_user, page_login
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.signals.test_ratings_experts import seated_lot
from tests.trading.test_draw import opened_lot
from trading.accounts.models import Role
from trading.signals import service_ratings
from trading.signals.models import ServiceRating
from trading.supervision import complaint_ratings
from trading.supervision.clocks import sweep
from trading.supervision.models import (
    Colour,
    Complaint,
    ComplaintKind,
    ComplaintState,
    Finding,
    SupervisionClock,
)
from trading.supervision.rulebook import ensure_seed
from trading.tenders.models import Tender

URL = "/api/v1/ratings/services"
HOSTILE = '<script>alert("评价")</script>'
HOSTILE_ANSWER = "已核实整改：<img src=x onerror=alert(1)> 并培训窗口人员"


def rate(client: FlaskClient, h: dict[str, str], service: str, subject: str, score: int, comment: str = "") -> Any:
    return client.post(
        URL, json={"service": service, "subject": subject, "score": score, "comment": comment}, headers=h
    )


def pending(client: FlaskClient, h: dict[str, str]) -> set[tuple[str, str]]:
    r = client.get("/api/v1/me/ratings/pending", headers=h)
    assert r.status_code == 200, r.get_json()
    return {(s["service"], s["subject"]) for s in r.get_json()["items"]}


def test_the_organisations_served_rate_each_service_once(client: FlaskClient, session: Session, app: Flask) -> None:
    t = opened_lot(client, session, app)
    code, lot = t["code"], f"{t['code']}/1"
    ht, hb, hb2 = t["tenderee"], t["headers"][0], t["headers"][1]
    with clock.frozen(t["deadline"] + dt.timedelta(hours=5)):
        assert pending(client, ht) == {("publication_review", code), ("opening", lot)}
        assert pending(client, hb) == {("opening", lot)}
        assert pending(client, t["outsider"]) == set()
        assert rate(client, t["outsider"], "opening", lot, 5).status_code == 404  # not one of its bidders
        assert rate(client, hb, "publication_review", code, 5).status_code == 404  # the tenderee's service
        r = rate(client, hb, "opening", lot, 5, "开标准时，解密顺利")
        assert r.status_code == 201, r.get_json()
        assert r.get_json()["role"] == "bidder" and not r.get_json()["bad"] and r.get_json()["answer_due"] is None
        again = rate(client, hb, "opening", lot, 4)
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_rated"
        assert pending(client, hb) == set()
        assert rate(client, ht, "publication_review", code, 4).get_json()["role"] == "tenderee"
        assert rate(client, ht, "opening", lot, 3).get_json()["role"] == "tenderee"
        bad: list[tuple[dict[str, Any], str]] = [
            ({"score": 6}, "score"),
            ({"score": 0}, "score"),
            ({"score": "五"}, "score"),
            ({"comment": "长" * 501}, "comment"),
            ({"service": "window"}, "service"),
            ({"subject": "G" * 41}, "subject"),
            ({"subject": ""}, "subject"),
            ({"org": 1}, "org"),
        ]
        for body, field in bad:
            r = client.post(URL, json={"service": "opening", "subject": lot, "score": 2} | body, headers=hb2)
            assert r.status_code == 422 and field in r.get_json()["error"]["fields"], (body, r.get_json())
        for subject in (f"{code}/x", f"{code}/99", "/1", "NO-SUCH/1"):
            assert rate(client, hb2, "opening", subject, 2).status_code == 404, subject
        assert rate(client, hb2, "evaluation", "abc", 2).status_code == 404
        assert rate(client, hb2, "evaluation", "99999999999", 2).status_code == 404
        no_rate = api_token(client, make_user(session, Role.STAFF).username)
        assert rate(client, no_rate, "opening", lot, 5).status_code == 403  # staff are not served
    assert session.scalars(select(ServiceRating)).all().__len__() == 3


def test_a_service_is_rated_only_once_it_is_over(client: FlaskClient, session: Session, app: Flask) -> None:
    before = open_tender(client, session, app, 2)
    r = rate(client, before["tenderee"], "opening", f"{before['code']}/1", 5)
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "service_not_ended"
    # before the deadline nobody is a bidder of the lot yet: a bidder's rating names nothing it may know of
    assert rate(client, before["headers"][0], "opening", f"{before['code']}/1", 5).status_code == 404
    w = seated_lot(client, session, app, reported=False)
    ev = str(w.ev)
    with clock.frozen(w.at):
        assert ("evaluation", ev) not in pending(client, w.t["tenderee"])
        r = rate(client, w.t["tenderee"], "evaluation", ev, 4)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "service_not_ended"
        assert rate(client, w.t["headers"][0], "evaluation", ev, 4).status_code == 404  # bidders do not rate it
        from trading.evaluation.models import EvalState, Evaluation

        e = session.get_one(Evaluation, w.ev)
        e.state, e.report_statement, e.reported_at = EvalState.REPORTED, "{}", w.at
        session.commit()
        assert ("evaluation", ev) in pending(client, w.t["tenderee"])
        assert rate(client, w.t["tenderee"], "evaluation", ev, 4).status_code == 201


def test_a_complaints_handling_is_rated_by_its_parties_through_the_supervision_hooks(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    service_ratings.later_services.connect(complaint_ratings.complaint_services)
    service_ratings.later_service.connect(complaint_ratings.complaint_service)
    t = opened_lot(client, session, app)
    at = t["deadline"] + dt.timedelta(hours=5)
    tender = session.scalars(select(Tender).where(Tender.code == t["code"])).one()
    complainant = t["bidders"][0].user
    c = Complaint(
        number="TS-2026-000077", kind=ComplaintKind.CONSTRUCTION, matter="opening", tender_id=tender.id,
        complainant_org_id=complainant.organisation_id, complainant_user_id=complainant.id,
        grounds="开标程序违法", requests="重新开标", statement="{}", state=ComplaintState.ACCEPTED, filed_at=at,
    )  # fmt: skip
    session.add(c)
    session.commit()
    with clock.frozen(at + dt.timedelta(days=3)):
        r = rate(client, t["headers"][0], "complaint", c.number, 2)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "service_not_ended"
        c.state, c.finding, c.decided_at = ComplaintState.DECIDED, Finding.DISMISSED, at + dt.timedelta(days=2)
        session.commit()
        assert ("complaint", c.number) in pending(client, t["headers"][0])
        assert ("complaint", c.number) in pending(client, t["tenderee"])
        assert ("complaint", c.number) not in pending(client, t["headers"][1])
        assert rate(client, t["headers"][1], "complaint", c.number, 1).status_code == 404  # not a party
        r = rate(client, t["headers"][0], "complaint", c.number, 2, "处理时间过长")
        assert r.status_code == 201 and r.get_json()["bad"] and r.get_json()["role"] == "bidder"
        assert rate(client, t["tenderee"], "complaint", c.number, 5).get_json()["role"] == "tenderee"
        assert rate(client, t["tenderee"], "complaint", "TS-2026-999999", 5).status_code == 404


def clocks(session: Session) -> list[SupervisionClock]:
    q = select(SupervisionClock).where(SupervisionClock.rule_code == "service_rating_answer")
    return list(session.scalars(q.order_by(SupervisionClock.id).execution_options(populate_existing=True)))


def test_a_bad_rating_runs_a_clock_the_answer_stops_red_when_late_and_the_aggregates_are_public(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = opened_lot(client, session, app)
    lot, staff = f"{t['code']}/1", t["staff"]
    start = t["deadline"] + dt.timedelta(days=1)
    with clock.frozen(start) as moment:
        ensure_seed(session, SYSTEM)
        session.commit()
        late_one = rate(client, t["headers"][0], "opening", lot, 1, HOSTILE).get_json()
        on_time = rate(client, t["headers"][1], "opening", lot, 2, "解密等待时间长").get_json()
        good = rate(client, t["headers"][2], "opening", lot, 5).get_json()
        assert late_one["bad"] and late_one["answer_due"] is not None
        sweep(session, clock.now())
        running = clocks(session)
        assert [c.colour for c in running] == [Colour.GREEN, Colour.GREEN]
        assert running[0].subject_key == f"service_rating:{late_one['id']}" and running[0].tender_id is not None
        assert clock.as_utc(running[0].due_at) == dt.datetime.fromisoformat(late_one["answer_due"])  # one limit
        moment.advance(days=1)
        r = client.post(f"{URL}/{on_time['id']}/answer", json={"text": "已核实，已调整解密服务器配置。"}, headers=staff)
        assert r.status_code == 200 and not r.get_json()["late"], r.get_json()
        r = client.post(f"{URL}/{good['id']}/answer", json={"text": "好评也要答复吗？不需要。"}, headers=staff)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "rating_not_bad"
        assert client.post(f"{URL}/{late_one['id']}/answer", json={"text": "短"}, headers=staff).status_code == 422
        assert (
            client.post(f"{URL}/{late_one['id']}/answer", json={"text": "x" * 20}, headers=t["tenderee"]).status_code
            == 403
        )
        assert client.post(f"{URL}/999999/answer", json={"text": "x" * 20}, headers=staff).status_code == 404
        moment.advance(days=30)
        staff = api_token(client, t["staff_username"])  # a token of a month ago has expired
        sweep(session, clock.now())
        late_clock, done_clock = clocks(session)
        assert done_clock.stopped_seq is not None and done_clock.worst is Colour.GREEN
        assert late_clock.colour is Colour.RED and late_clock.stopped_seq is None
        r = client.post(f"{URL}/{late_one['id']}/answer", json={"text": HOSTILE_ANSWER}, headers=staff)
        assert r.status_code == 200 and r.get_json()["late"]
        again = client.post(f"{URL}/{late_one['id']}/answer", json={"text": "再答复一次，内容不同。"}, headers=staff)
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "rating_answered"
        sweep(session, clock.now())
        assert clocks(session)[0].stopped_seq is not None and clocks(session)[0].worst is Colour.RED
        assert session.scalar(select(AuditEvent.seq).where(AuditEvent.action == "supervision_clock.late")) is not None
        bad_list = client.get(f"{URL}/bad", headers=staff).get_json()["items"]
        assert {b["id"] for b in bad_list} == {late_one["id"], on_time["id"]} and all(b["org_name"] for b in bad_list)

        # public: no login, no rater, no comment; the center's answers
        data = client.get(URL).get_json()
        whole = next(c for c in data["cells"] if c["service"] == "opening" and c["month"] == "")
        assert (whole["count"], whole["average"], whole["bad"], whole["answered"], whole["on_time"]) == (
            3,
            "2.67",
            2,
            2,
            1,
        )
        assert whole["bad_share"] == "0.6667" and whole["on_time_share"] == "0.5000"
        text = client.get(URL).get_data(as_text=True)
        assert HOSTILE not in text and "解密等待时间长" not in text and "org" not in text
        assert [a["on_time"] for a in data["answered"]] == [False, True]
        month = clock.local(start).strftime("%Y-%m")
        assert client.get(URL, query_string={"month": month}).get_json()["cells"][0]["month"] == month
        for bad in ("2026-13", "2026-1", "<b>", "2026-01-01"):
            r = client.get(URL, query_string={"month": bad})
            assert r.status_code == 422 and r.get_json()["error"]["code"] == "rating_month", bad
        page = client.get("/ratings").get_data(as_text=True)
        assert "服务评价" in page and "<svg" in page and 'id="chart-average"' in page
        assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
        assert HOSTILE not in page and "alert(&#34;评价&#34;)" not in page  # comments are not public
        assert client.get("/ratings?month=bad").status_code == 422
        page_login(client, t["staff_username"])
        answers = client.get("/ratings/answers").get_data(as_text=True)
        assert HOSTILE not in answers and "&lt;script&gt;" in answers
        page_login(client, t["bidders"][0].user.username)
        mine = client.get("/me/ratings").get_data(as_text=True)
        assert "&lt;script&gt;" in mine and HOSTILE not in mine and "已核实整改" in mine
