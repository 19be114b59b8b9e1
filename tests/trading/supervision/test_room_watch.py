"""A supervisor watches any evaluation room as staff see it and cannot act in it (issue 21, point 4)."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import api_token, make_user, page_login
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import start_review
from trading.accounts.models import Role


def test_a_supervisor_sees_the_room_and_every_act_is_refused(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    supervisor = make_user(session, Role.SUPERVISOR)
    session.commit()
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        got = start_review(client, session, app, t, 4)
        url, staff = got["url"], got["staff"]
        hv = api_token(client, supervisor.username)
        watched, seen_by_staff = client.get(url, headers=hv).get_json(), client.get(url, headers=staff).get_json()
        assert watched["me"] is None and watched["state"] == "compliance"
        assert [b["credit_code"] for b in watched["bidders"]] == [b["credit_code"] for b in seen_by_staff["bidders"]]
        for path, body in (
            ("/stages/scoring", None),
            ("/compliance", {"bidder": got["bids"][0], "passed": False}),
        ):
            r = client.post(url + path, json=body, headers=hv)
            assert r.status_code == 403, (path, r.get_json())
        assert (
            client.get(f"{url}/opening-seats/{got['bids'][0]}/copy", headers=hv).status_code == 403
        )  # copies: the seats'
        assert client.get(url, headers=staff).get_json()["state"] == "compliance"  # nothing moved
        page_login(client, supervisor.username)
        html = client.get(f"/evaluations/{watched['id']}").get_data(as_text=True)
        assert 'data-staff="0"' in html and "我的委员编号" not in html
        assert client.post(f"/evaluations/{watched['id']}/act/advance").status_code in (400, 403)
