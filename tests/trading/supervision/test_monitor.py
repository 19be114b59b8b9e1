"""The supervisors' live monitor: a ceremony before and after its deadline (nothing about the bids
before it), its lot's warnings from the clocks table, who may see it, and the rooms a supervisor
may open read-only."""

from __future__ import annotations

import datetime as dt
import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import api_token, make_user, page_login
from trading.accounts.models import Role
from trading.supervision.models import Colour, LimitUnit, SupervisionClock, SupervisionRule


def a_warning(session: Session, lot_id: int, tender_id: int, at: dt.datetime) -> None:
    """A yellow clock on the lot, as the clocks sweep would leave it (read here, never written)."""
    rule = SupervisionRule(
        code="test_rule",
        version=1,
        title="测试时限",
        source="测试",
        source_text="测试",
        start_action="tender.publish",
        stop_actions="lot.award",
        subject="lot",
        limit_value=3,
        limit_unit=LimitUnit.WORKING_DAYS,
        yellow_value=1,
        warned="supervisor",
        enabled=True,
        effective_from=at,
    )
    session.add(rule)
    session.flush()
    session.add(
        SupervisionClock(
            rule_id=rule.id,
            rule_code=rule.code,
            subject_key=f"lot:{lot_id}",
            tender_id=tender_id,
            lot_id=lot_id,
            started_seq=1,
            started_at=at,
            yellow_at=at,
            due_at=at + dt.timedelta(days=3),
            colour=Colour.YELLOW,
            worst=Colour.YELLOW,
        )
    )
    session.commit()


def test_the_monitor_before_and_after_the_deadline(client: FlaskClient, session: Session, app: Flask) -> None:
    from tests.trading.opening.test_ceremony import open_tender
    from trading.tenders.models import Tender

    t = open_tender(client, session, app, 3)
    supervisor, bidder = make_user(session, Role.SUPERVISOR), make_user(session, Role.BIDDER)
    tender = session.query(Tender).filter_by(code=t["code"]).one()
    a_warning(session, tender.lots[0].id, tender.id, t["deadline"] - dt.timedelta(days=2))
    names = [b.user.organisation.name for b in t["bidders"]]
    h = api_token(client, supervisor.username)

    assert client.get("/api/v1/supervision/monitor").status_code == 401
    assert client.get("/supervision/monitor").status_code == 302
    assert client.get("/api/v1/supervision/monitor", headers=api_token(client, bidder.username)).status_code == 403

    with clock.frozen(t["deadline"] - dt.timedelta(hours=1)):
        body = client.get("/api/v1/supervision/monitor", headers=h).get_json()
        room = next(r for r in body["openings"] if r["id"] == t["cid"])
        assert (room["stage"], room["bids"], room["deadline_passed"]) == ("scheduled", None, False)
        assert room["next_label"] == "开标（投标截止）"
        assert dt.datetime.fromisoformat(room["next_at"]) == t["deadline"]
        assert [(w["rule_code"], w["colour"], w["title"]) for w in room["warnings"]] == [
            ("test_rule", "yellow", "测试时限")
        ]
        text = json.dumps(body, ensure_ascii=False)
        assert not any(n in text for n in names)  # no bidder before the deadline (Law 22)
        assert room["url"] == f"/ceremonies/{t['cid']}"

    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        client.get(f"/api/v1/ceremonies/{t['cid']}")  # the deadline opens the room
        body = client.get("/api/v1/supervision/monitor", headers=h).get_json()
        room = next(r for r in body["openings"] if r["id"] == t["cid"])
        assert (room["stage"], room["bids"], room["deadline_passed"]) == ("sign_in", 3, True)
        assert room["next_label"] == "签到截止" and room["next_at"]
        assert body["live"] is None  # no live server configured: the page polls its JSON

        page_login(client, supervisor.username)
        html = client.get("/supervision/monitor").get_data(as_text=True)
        assert 'class="countdown"' in html and "测试时限" in html and "monitor.js" in html
        state = client.get("/supervision/monitor/state").get_json()
        assert state["openings"][0]["id"] == t["cid"]
        # the ceremony room opens for a supervisor, read-only: the staff view without its controls
        room_html = client.get(f"/ceremonies/{t['cid']}").get_data(as_text=True)
        assert "control/advance" not in room_html
        assert client.post(f"/ceremonies/{t['cid']}/control/advance").status_code in (400, 403)
        # the evaluation room opens for a supervisor too (test_room_watch): here there is none yet
        assert client.get("/evaluations/1").status_code == 404
        page_login(client, bidder.username)
        assert client.get("/supervision/monitor/state").status_code == 403
