"""One room that cannot move never holds up another: the scheduler's sweep moves each ceremony in
a transaction of its own; a failure is undone alone, recorded as an audit event, shown to staff,
retried with a pause up to a cap, and staff's own advance answers it by name."""

from __future__ import annotations

import datetime as dt
import json

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from tests.factories import page_login
from tests.trading.opening.test_ceremony import open_tender, signin_sig
from trading.core.scheduler import RETRY_CAP
from trading.core.services import services
from trading.opening.models import Ceremony, Stage
from trading.opening.tasks import open_ceremonies_job


def _failures(session: Session, cid: int) -> list[dict[str, object]]:
    session.expire_all()
    rows = session.scalars(
        select(AuditEvent.payload)
        .where(AuditEvent.action == "ceremony.advance_failed", AuditEvent.object_id == str(cid))
        .order_by(AuditEvent.seq)
    )
    return [json.loads(p) for p in rows]


def _stage(session: Session, cid: int) -> Stage:
    session.expire_all()
    c = session.get(Ceremony, cid)
    assert c is not None
    return c.stage


def test_a_broken_room_holds_up_no_other_and_is_left_to_staff_after_the_cap(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    broken, sound = open_tender(client, session, app, 3), open_tender(client, session, app, 3)
    c = session.get(Ceremony, broken["cid"])
    assert c is not None
    # a row that makes the room's next step fail (its bidder-list window is not a number of minutes);
    # before, the sweep moved every room in one transaction and this one stopped them all
    good_windows = dict(c.windows)
    c.windows = {**good_windows, "bidders": "五分钟"}
    session.commit()
    svc = services(app)
    opened = max(broken["deadline"], sound["deadline"]) + dt.timedelta(seconds=1)
    with clock.frozen(opened) as moment:
        assert open_ceremonies_job(session, clock.now(), svc) == 2  # both open at the deadline
        cid, room = broken["cid"], f"/api/v1/ceremonies/{broken['cid']}"
        for i, b in enumerate(broken["bidders"]):
            r = client.post(
                f"{room}/signin", json={"signature": signin_sig(b, cid, broken["code"])}, headers=broken["headers"][i]
            )
            assert r.status_code == 200

        moment.advance(minutes=31)  # both sign-in windows have run out
        assert open_ceremonies_job(session, clock.now(), svc) == 1
        assert _stage(session, sound["cid"]) is Stage.BIDDERS  # the other tender's room moved on
        assert _stage(session, cid) is Stage.SIGN_IN
        (first,) = _failures(session, cid)
        assert first["error"] == "TypeError" and first["stage"] == "sign_in" and first["failures"] == 1

        # staff see it, in the room's JSON and on the room page; the public does not
        seen = client.get(room, headers=broken["staff"]).get_json()["advance_failure"]
        assert seen["failures"] == 1 and seen["error"] == "TypeError" and not seen["gave_up"]
        assert "advance_failure" not in client.get(room).get_json()
        browser = app.test_client()
        page_login(browser, broken["staff_username"])
        html = browser.get(f"/ceremonies/{cid}").get_data(as_text=True)
        assert "开标室未能进入下一阶段" in html and "TypeError" in html

        # retried on later sweeps, with a pause between tries, then left alone
        assert open_ceremonies_job(session, clock.now(), svc) == 0 and len(_failures(session, cid)) == 1
        for _ in range(2 * RETRY_CAP):
            moment.advance(minutes=10)
            open_ceremonies_job(session, clock.now(), svc)
        failures = _failures(session, cid)
        assert len(failures) == RETRY_CAP and failures[-1]["gave_up"] is True
        assert client.get(room, headers=broken["staff"]).get_json()["advance_failure"]["gave_up"] is True

        # staff's own advance still tries: a named error, its failure recorded all the same
        r = client.post(f"{room}/advance", headers=broken["staff"])
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "advance_failed"
        assert "系统内部错误" in r.get_json()["error"]["message"]  # in Chinese; the class is a detail
        assert r.get_json()["error"]["detail"]["error"] == "TypeError"
        assert len(_failures(session, cid)) == RETRY_CAP + 1

        # once the row is repaired, staff move the room on
        c = session.get(Ceremony, cid)
        assert c is not None
        c.windows = good_windows
        session.commit()
        r = client.post(f"{room}/advance", headers=broken["staff"])
        assert r.status_code == 200 and r.get_json()["stage"] == "bidders"
        assert r.get_json()["advance_failure"] is None
