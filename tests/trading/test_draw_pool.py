"""What goes into the draw's pool from hostile or stale data: a declared period ending on a day that
does not exist (2026-02-30) is refused by the form and the API alike, and one already stored can
neither stop the draw nor let a conflicted expert in; a disabled account is never drawn."""

from __future__ import annotations

import base64
import datetime as dt
import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from tests.factories import api_token, csrf_from, make_user, page_login, user_named, valid_code
from tests.trading.test_draw import BIDDER, _experts, expert, opened_lot, ops_invitations, rules_for
from trading.accounts.models import Role
from trading.accounts.operations import set_user_active
from trading.evaluation import draw as rules
from trading.evaluation.experts import pool
from trading.evaluation.models import Expert

NO_SUCH_DAY = "2026-02-30"


def test_an_unreadable_end_counts_as_still_holding() -> None:
    r = rules_for()
    job = {"credit_code": BIDDER, "from": "2020-01-01", "to": NO_SUCH_DAY}
    assert rules.excluded(expert(1, history=(job,)), r) == "former_employer"
    board = {"kind": "director", "credit_code": BIDDER, "from": "2020-01-01", "to": "2026-13-01"}
    assert rules.excluded(expert(1, relations=(board,)), r) == "director"
    assert rules.excluded(expert(1, history=({**job, "to": 20260101},)), r) == "former_employer"
    # with a unit that is no party to the lot, an unreadable date changes nothing
    other = {**job, "credit_code": valid_code(600_000_001)}
    assert rules.excluded(expert(1, history=(other,)), r) is None


def test_a_disabled_account_is_out_and_old_snapshots_still_read() -> None:
    assert rules.excluded(expert(1, active=False), rules_for()) == "account_disabled"
    old = expert(1).to_json()
    del old["active"]  # a snapshot made before accounts could be disabled
    assert rules.Candidate.from_json(old) == expert(1)


def test_no_such_day_is_refused_by_the_form_and_the_api(client: FlaskClient, session: Session, app: Flask) -> None:
    t = opened_lot(client, session, app)
    users = _experts(session, t, 2)
    bidder = t["bidders"][1].user.organisation.credit_code
    page = app.test_client()
    page_login(page, users[1].username)
    token = csrf_from(page.get("/expert").get_data(as_text=True))
    form = {"csrf_token": token, "action": "save", "employer": valid_code(700_000_001), "available": "1"}
    row = {"row_kind": "employment", "row_code": bidder, "row_from": "2020-01-01", "row_to": NO_SUCH_DAY}
    r = page.post("/expert/declarations", data={**form, **row})
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and f"第 1 项：截止日期不是存在的日期（{NO_SUCH_DAY}）" in html, html
    r = page.post("/expert/declarations", data={**form, **row, "row_from": "2021-02-29", "row_to": ""})
    assert r.status_code == 400 and "第 1 项：起始日期不是存在的日期（2021-02-29）" in r.get_data(as_text=True)

    he = api_token(client, users[1].username)
    period = {"credit_code": bidder, "from": "2020-01-01", "to": NO_SUCH_DAY}
    r = client.put("/api/v1/experts/me", json={"employer": valid_code(700_000_001), "history": [period]}, headers=he)
    err = r.get_json()["error"]
    assert r.status_code == 422 and "不是存在的日期" in err["fields"]["history.0.to"], err
    assert err["field_labels"]["history.0.to"] == "第1曾任职单位 · 截止日期"
    late = {**period, "kind": "director", "from": "2025-01-01", "to": "2024-12-31"}
    r = client.put("/api/v1/experts/me", json={"employer": valid_code(700_000_001), "relations": [late]}, headers=he)
    assert r.status_code == 422 and r.get_json()["error"]["fields"]["relations.0.to"] == "不能早于起始日期"
    session.expire_all()
    assert session.scalars(select(Expert).where(Expert.user_id == users[1].id)).one().history == []


def test_the_draw_survives_stored_bad_dates_and_skips_disabled_accounts(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """Eight experts, four seats: 0 works for a bidder; 1 declared a bidder's job ending on no real
    day (stored before the schema checked days); 2 and 7 have disabled accounts; 3 has a bad date
    with a unit that is no party. Exactly 3–6 are eligible, so all four are drawn."""
    t = opened_lot(client, session, app)
    users = _experts(session, t)
    bidder = t["bidders"][1].user.organisation.credit_code
    by_user = {e.user_id: e for e in session.scalars(select(Expert))}
    by_user[users[1].id].history = [{"credit_code": bidder, "from": "2020-01-01", "to": NO_SUCH_DAY}]
    by_user[users[3].id].history = [{"credit_code": valid_code(600_000_003), "from": "2020-01-01", "to": NO_SUCH_DAY}]
    admin = make_user(session, Role.ADMIN)
    for i in (2, 7):
        set_user_active(session, admin, user_named(session, users[i].username), False)
    session.commit()
    assert {c.id: c.active for c in pool(session)}[by_user[users[2].id].id] is False

    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        staff = app.test_client()
        page_login(staff, t["staff_username"])
        url = f"/tenders/{t['code']}/lots/1/draws"
        token = csrf_from(staff.get(url).get_data(as_text=True))
        r = staff.post(f"{url}/commit", data={"csrf_token": token}, follow_redirects=True)
        assert "已公布本轮抽取" in r.get_data(as_text=True)
        draw_id = session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "draw.commit")).one()
        r = staff.post(f"{url}/run", data={"csrf_token": token, "draw": draw_id})
        assert r.status_code == 302, r.get_data(as_text=True)
        html = staff.get(url).get_data(as_text=True)
        assert "已抽取并通知专家" in html and "待确认 4" in html, html
        bundle = client.get(f"/api/v1/draws/{draw_id}/bundle", headers=t["staff"]).get_json()
    invited = [i for i, u in enumerate(users) if u.is_active and ops_invitations(client, u)]
    assert invited == [3, 4, 5, 6]
    snap = json.loads(base64.b64decode(bundle["snapshot"]))
    assert sorted(c["id"] for c in snap["pool"] if not c["active"]) == sorted(by_user[users[i].id].id for i in (2, 7))
