"""The evaluation room raced on PostgreSQL (tests.races): the report is built from the scores as
they are under the room's lock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask

from archive import clock
from tests.races import locking_read, when_statement
from tests.trading.test_draw import opened_lot
from tests.trading.test_evaluation import start_review

pytestmark = pytest.mark.integration


def test_a_score_revised_while_the_report_is_made_is_in_the_report(pg_app: Flask) -> None:
    """The leader's advance runs the checks, commits their findings, then takes the room's lock
    again to build the report. An expert who revises a score in between is in the report: before,
    the report was built from the sheets the checks had read, as they were before the revision."""
    app, client, db = pg_app, pg_app.test_client(), pg_app.extensions["ggzy.db"]
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        with db.session() as session:
            t = opened_lot(client, session, app)
            r = start_review(client, session, app, t, 4)
        url, committee, bids = r["url"], r["committee"], r["bids"]
        lead = committee[0]["h"]
        for x in committee:
            for b in bids:
                client.post(f"{url}/compliance", json={"bidder": b, "passed": True}, headers=x["h"])
        assert client.post(f"{url}/advance", headers=lead).get_json()["state"] == "scoring"
        for x in committee:
            for n, b in enumerate(bids):
                body = {"bidder": b, "scores": {"施工组织设计": str(45 - n), "项目管理机构": "8"}, "total": str(53 - n)}
                assert client.post(f"{url}/scores", json=body, headers=x["h"]).status_code == 200
        reviser, revised = committee[1], bids[0]
        answer: dict[str, Any] = {}

        def revise() -> None:
            body = {"bidder": revised, "scores": {"施工组织设计": "44", "项目管理机构": "8"}, "total": "52"}
            answer["r"] = app.test_client().post(f"{url}/scores", json=body, headers=reviser["h"])

        with when_statement(app, locking_read("evaluation"), revise, after=False, nth=2) as fired:
            report = client.post(f"{url}/advance", headers=lead).get_json()
        assert fired[0] and answer["r"].status_code == 200, answer["r"].get_json()
        assert report.get("state") == "signing", report
        (row,) = [
            s
            for s in report["report"]["scores"]
            if s["expert"] == reviser["id"] and s["bidder"] == report["report"]["compliance"][0]["bidder"]
        ]
        assert row["scores"]["施工组织设计"] == "44" and row["total"] == "52.00"
