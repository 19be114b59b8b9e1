"""The named stage routes of the opening and the evaluation room (``…/stages/{stage}``), the
renamed verbs (``sign-in``, ``opening_seat``) and their deprecated aliases, and the opening
record's detached signature served as the exact bytes an outsider verifies."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from archive import clock
from signing.certs import Certificate
from signing.digest import sm3_hex
from signing.statements import SignedStatement
from tests.trading.opening.test_ceremony import open_tender, release, signin_sig
from tests.trading.opening.test_joint import _all_signed_in, joint_tender
from tests.trading.test_evaluation import room_in_compliance
from trading.core.services import services
from trading.evaluation.schemas import RoomOut
from trading.opening.decryption import run_pending
from trading.opening.schemas import CeremonyOut, JointOut
from trading.opening.stage_routes import DEPRECATED_ON


def refused(r: TestResponse, current: str, allowed: list[str]) -> None:
    assert r.status_code == 409, r.get_json()
    error = r.get_json()["error"]
    assert (error["code"], error["current"], error["allowed"]) == ("stage_not_next", current, allowed)
    assert current in error["message"]


def deprecated_for(r: TestResponse, successor: str) -> None:
    assert r.headers["Deprecation"] == f"@{int(DEPRECATED_ON.timestamp())}"
    assert r.headers["Link"] == f'<{successor}>; rel="successor-version"'


def test_staff_name_each_opening_stage_and_the_old_routes_still_answer(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    cid, code, H, staff = t["cid"], t["code"], t["headers"], t["staff"]
    room = f"/api/v1/ceremonies/{cid}"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        assert client.get(room).get_json()["next_stages"] == ["bidders"]
        for i in (0, 1):
            r = client.post(f"{room}/sign-in", json={"signature": signin_sig(t["bidders"][i], cid, code)}, headers=H[i])
            assert r.status_code == 200 and "Deprecation" not in r.headers, r.get_json()
        # the old spelling: the same answer, marked, and marked on a refusal too
        bad = client.post(f"{room}/signin", json={"signature": "A" * 20}, headers=H[2])
        assert bad.status_code in (403, 409, 422)
        deprecated_for(bad, f"/api/v1/ceremonies/{cid}/sign-in")
        r = client.post(f"{room}/signin", json={"signature": signin_sig(t["bidders"][2], cid, code)}, headers=H[2])
        assert r.status_code == 200 and r.get_json()["stage"] == "sign_in"
        deprecated_for(r, f"/api/v1/ceremonies/{cid}/sign-in")

        assert client.post(f"{room}/stages/bidders", headers=H[0]).status_code == 403  # a bidder is no host
        r = client.post(f"{room}/stages/opened", headers=staff)
        assert r.status_code == 404 and r.get_json()["error"]["code"] == "unknown_stage"
        refused(client.post(f"{room}/stages/decrypting", headers=staff), "sign_in", ["bidders"])
        r = client.post(f"{room}/stages/bidders", headers=staff)
        assert r.status_code == 200 and "Deprecation" not in r.headers
        assert (r.get_json()["stage"], r.get_json()["next_stages"]) == ("bidders", ["decrypting"])
        refused(client.post(f"{room}/stages/bidders", headers=staff), "bidders", ["decrypting"])  # no second move
        r = client.post(f"{room}/advance", headers=staff)  # the alias names the stage it entered
        assert r.get_json()["stage"] == "decrypting"
        deprecated_for(r, f"/api/v1/ceremonies/{cid}/stages/decrypting")
        for i in range(3):
            assert release(client, t, i).status_code == 202
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 3
        assert client.post(f"{room}/stages/reading", headers=staff).get_json()["stage"] == "reading"
        r = client.post(f"{room}/stages/confirming", headers=staff).get_json()
        assert (r["stage"], r["next_stages"]) == ("confirming", ["closed"])
        # the documented answer is exact (extra keys refused) for the host, a bidder and the public
        for who in (staff, H[0], {}):
            CeremonyOut.model_validate(client.get(room, headers=who).get_json())
        me = client.get(room, headers=H[0]).get_json()["me"]
        assert me["credit_code"] == me["bidder"] == t["bidders"][0].user.organisation.credit_code

        # the record's signature: the exact bytes, checked as an outsider checks them
        sig = client.get(f"{room}/record.sig")
        assert sig.mimetype == "application/octet-stream"
        assert sig.headers["Content-Disposition"] == f'attachment; filename="opening-record-{cid}.sig"'
        platform = Certificate.from_pem(
            client.get("/api/v1/platform/certificates").get_json()["signing_certificate"].encode()
        )
        body = SignedStatement.from_json(sig.data).verify(trusted=platform, expected_type="opening_record")["body"]
        assert body["record_sm3"] == sm3_hex(client.get(f"{room}/record.json").data) == r["record_sm3"]
        assert body["pdf_sm3"] == sm3_hex(client.get(f"{room}/record.pdf").data)


def test_a_joint_opening_names_its_stages_too(client: FlaskClient, session: Session, app: Flask) -> None:
    t = joint_tender(client, session, app)
    joint, staff = f"/api/v1/tenders/{t['code']}/opening", t["staff"]
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        _all_signed_in(client, t)
        refused(client.post(f"{joint}/stages/reading", headers=staff), "sign_in", ["bidders"])
        st = client.post(f"{joint}/stages/bidders", headers=staff).get_json()
        assert [lot["stage"] for lot in st["lots"]] == ["bidders", "bidders", "failed"]
        assert st["next_stages"] == ["decrypting"]
        JointOut.model_validate(st)
        r = client.post(f"{joint}/advance", headers=staff)
        assert [lot["stage"] for lot in r.get_json()["lots"][:2]] == ["decrypting", "decrypting"]
        deprecated_for(r, f"{joint}/stages/decrypting")
        r = client.post(f"{joint}/pause", json={"reason": "网络故障"}, headers=staff)
        assert r.status_code == 200 and "Deprecation" not in r.headers


def test_the_evaluation_room_names_its_stages_and_the_seat_it_means(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        room: dict[str, Any] = room_in_compliance(client, session, app)
        url, committee, bids = room["url"], room["committee"], room["bids"]
        lead = committee[0]
        state = client.get(url, headers=lead["h"]).get_json()
        assert state["next_stages"] == ["scoring"]
        assert [b["opening_seat"] for b in state["bidders"]] == bids
        refused(client.post(f"{url}/stages/signing", headers=lead["h"]), "compliance", ["scoring"])
        r = client.post(f"{url}/stages/scoring", headers=lead["h"])  # the step's own refusal stays
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "votes_missing"
        for n, x in enumerate(committee):  # the new name, and the old one still accepted
            for b in bids:
                body = {"opening_seat" if n % 2 else "bidder": b, "passed": True}
                assert client.post(f"{url}/compliance", json=body, headers=x["h"]).status_code == 200
        both = {"opening_seat": bids[0], "bidder": bids[0], "passed": True}
        assert client.post(f"{url}/compliance", json=both, headers=lead["h"]).status_code == 422
        state = client.post(f"{url}/stages/scoring", headers=lead["h"]).get_json()
        assert (state["state"], state["next_stages"]) == ("scoring", ["signing"])
        RoomOut.model_validate(state)

        copy = client.get(f"{url}/opening-seats/{bids[0]}/copy", headers=lead["h"], buffered=True)
        assert copy.status_code == 200 and copy.mimetype == "application/zip" and "Deprecation" not in copy.headers
        old = client.get(f"{url}/bids/{bids[0]}/copy", headers=lead["h"], buffered=True)
        assert old.status_code == 200 and old.mimetype == "application/zip"
        deprecated_for(old, f"{url}/opening-seats/{bids[0]}/copy")

        for x in committee:
            for n, b in enumerate(bids):
                body = {
                    "opening_seat": b,
                    "scores": {"施工组织设计": str(40 - n), "项目管理机构": "8"},
                    "total": str(48 - n),
                }
                assert client.post(f"{url}/scores", json=body, headers=x["h"]).status_code == 200
        sheets = client.get(url, headers=lead["h"]).get_json()["sheets"]
        assert {s["opening_seat"] for s in sheets} == set(bids) and all(
            s["bidder"] == s["opening_seat"] for s in sheets
        )
        checked = client.post(f"{url}/checks", headers=lead["h"]).get_json()
        assert checked["flags"] == [] and checked["flags_found"] == 0  # the room's list stays a list
        RoomOut.model_validate(checked)
        r = client.post(f"{url}/advance", headers=lead["h"])  # the old route: whatever comes next
        assert r.get_json()["state"] == "signing" and r.get_json()["next_stages"] == []
        deprecated_for(r, f"{url}/stages/signing")
        for who in (lead["h"], room["staff"]):
            RoomOut.model_validate(client.get(url, headers=who).get_json())
        refused(client.post(f"{url}/stages/reported", headers=lead["h"]), "signing", [])
