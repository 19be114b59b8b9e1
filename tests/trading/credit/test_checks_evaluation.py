"""The credit check at the evaluation (财库〔2016〕125号: the result at evaluation time counts): each
bidder is checked when the compliance review starts, the room shows the finding, a vote on a flagged
bidder needs a reason; the draw keeps suspended experts out and still verifies; the lot's archive
package holds every check, verified by ``ggzy archive verify``, and a tampered one is named."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import pathlib
import zipfile
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock, package_check
from archive import transparency as log
from archive.audit import AuditEvent
from signing.canonical import canonical_json
from signing.statements import SignedStatement
from tests.factories import api_token, draw_and_confirm, make_user, page_login, platform_keys
from tests.trading.credit.test_checks_registration import listed
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.test_draw import _cli_env, _experts, run_opening
from tests.trading.test_evaluation import start_review
from trading.accounts.models import Role
from trading.core.services import services
from trading.credit.models import CheckPurpose, CreditCheck, CreditList, Measure, SubjectKind
from trading.evaluation.models import ComplianceVote, DrawMember, Expert

LATER = dt.timedelta(days=60)


def flagged_room(client: FlaskClient, session: Session, app: Flask) -> dict[str, Any]:
    """Three bidders registered clean; an outsider refused at registration; after the opening the
    first bidder is barred and the second has a notice; the compliance review started."""
    t = open_tender(client, session, app, 3, specialties=[{"code": "A01", "count": 5}])
    outsider = make_user(session, Role.BIDDER)
    session.commit()
    assert outsider.organisation is not None
    refused = listed(session, outsider.organisation.credit_code)
    r = client.post(f"/api/v1/tenders/{t['code']}/interest", headers=api_token(client, outsider.username))
    assert r.get_json()["error"]["code"] == "credit_barred"
    run_opening(client, app, t)
    codes = [b.user.organisation.credit_code for b in t["bidders"]]
    bar = listed(session, codes[0], category="construction")  # listed after it registered
    notice = listed(session, codes[1], Measure.NOTICE, list_kind=CreditList.PROCUREMENT_VIOLATORS)
    room = start_review(client, session, app, t, 5)
    return {**room, "codes": codes, "bar": bar, "notice": notice, "refused": refused}


def test_the_committee_sees_the_finding_and_must_address_it(client: FlaskClient, session: Session, app: Flask) -> None:
    with clock.frozen(dt.datetime.now(dt.UTC) + LATER):
        r = flagged_room(client, session, app)
        url, committee, hs, codes = r["url"], r["committee"], r["staff"], r["codes"]
        state = client.get(url, headers=hs).get_json()
        by_code = {b["credit_code"]: b for b in state["bidders"]}
        barred, noticed, clean = (by_code[c] for c in codes)
        assert barred["credit"]["result"] == "barred" and barred["credit"]["entries"][0]["id"] == r["bar"].id
        assert noticed["credit"]["result"] == "found" and noticed["credit"]["entries"][0]["id"] == r["notice"].id
        assert clean["credit"]["result"] == "clean" and clean["credit"]["entries"] == []
        check = session.get_one(CreditCheck, barred["credit"]["check"])
        assert check.purpose is CheckPurpose.EVALUATION and check.lot_number == 1 and check.barred
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "credit.checked")).all()
        assert len(events) == 3 and all(json.loads(e.payload)["round"] == 1 for e in events)
        # the committee must address a finding: a vote without a reason is refused
        x = committee[0]
        for b in (barred, noticed):
            got = client.post(f"{url}/compliance", json={"bidder": b["id"], "passed": True}, headers=x["h"])
            assert got.status_code == 422 and got.get_json()["error"]["code"] == "credit_finding_unaddressed"
        reason = {"reason": "经核查，该记录的限制范围与本项目不符，不影响投标资格"}
        for m in committee:
            for b in state["bidders"]:
                extra = reason if b["credit"]["result"] != "clean" else {}
                got = client.post(
                    f"{url}/compliance", json={"bidder": b["id"], "passed": True, **extra}, headers=m["h"]
                )
                assert got.status_code == 200, got.get_json()
        # a vote on a flagged bid that gives no reason (recorded before the rule) holds the review
        vote = session.scalars(select(ComplianceVote).where(ComplianceVote.bidder_id == noticed["id"])).first()
        assert vote is not None
        vote.reason = None
        session.commit()
        assert "信用查询结果" in client.get(url, headers=hs).get_json()["blocked"]["advance"]
        got = client.post(f"{url}/advance", headers=x["h"])
        assert got.status_code == 409 and got.get_json()["error"]["code"] == "credit_finding_unaddressed"
        # the page shows the column; its state carries the finding (rendered with textContent)
        page_login(client, r["t"]["staff_username"])
        html = client.get(f"/evaluations/{r['ev']['id']}").get_data(as_text=True)
        assert "信用查询（评审时）" in html and r["bar"].source_ref in html and 'id="findings"' in html
        assert 'data-can-read-credit="1"' in html  # staff may open the snapshot's page; the committee may not
        # the review closed: the members' reasons for passing a flagged bid are kept and shown
        vote.reason = "经核查，该记录的限制范围与本项目不符"
        session.commit()
        assert client.post(f"{url}/advance", headers=hs).status_code == 200
        closed = {b["id"]: b["compliance"] for b in client.get(url, headers=hs).get_json()["bidders"]}
        assert len(closed[noticed["id"]]["credit_reasons"]) == len(committee)
        assert vote.reason in closed[noticed["id"]]["credit_reasons"] and "credit_reasons" not in closed[clean["id"]]
        client.post("/logout")
        page_login(client, x["signer"].user.username)
        assert 'data-can-read-credit="0"' in client.get(f"/evaluations/{r['ev']['id']}").get_data(as_text=True)
        # the checks were made once: reading and voting made none
        assert (
            len(session.scalars(select(CreditCheck).where(CreditCheck.purpose == CheckPurpose.EVALUATION)).all()) == 3
        )


def test_the_lot_package_holds_every_check_and_a_tampered_one_is_named(
    client: FlaskClient, session: Session, app: Flask, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trading.archives.building import build_for
    from trading.archives.models import ArchivePackage
    from trading.cli import main
    from trading.opening.ceremonies import get_ceremony

    with clock.frozen(dt.datetime.now(dt.UTC) + LATER):
        r = flagged_room(client, session, app)
    keys = platform_keys(app)
    log.sign_pending(session, keys.sign_key, keys.sign_cert)
    c = get_ceremony(session, r["t"]["cid"])
    row = build_for(session, c, services(app))
    assert row is not None
    data = services(app).archive_store.read_bytes(row.object_key)
    checks = session.scalars(select(CreditCheck).where(CreditCheck.tender_code == r["t"]["code"])).all()
    assert len(checks) == 7  # three registrations, the refused one, three at the evaluation
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = {n for n in z.namelist() if n.startswith("credit/")}
        assert names == {f"credit/checks/{k.id}.json" for k in checks}
        manifest = json.loads(z.read("manifest.json"))
        refused = next(k for k in checks if k.purpose is CheckPurpose.REGISTRATION and k.barred)
        assert z.read(f"credit/checks/{refused.id}.json") == refused.statement.encode()
    assert {f["category"] for f in manifest["files"] if f["path"] in names} == {"credit"}
    report = package_check.verify(io.BytesIO(data), keys.ca.cert)
    assert report.ok, list(report.lines())
    assert sum("信用查询快照" in c.what and c.ok for c in report.checks) == 7
    _cli_env(app, monkeypatch)
    root = tmp_path / "root.pem"
    root.write_bytes(keys.ca.cert.to_pem())
    good = tmp_path / "good.zip"
    good.write_bytes(data)
    got = CliRunner().invoke(main, ["archive", "verify", str(good), "--root", str(root)])
    assert got.exit_code == 0 and "信用查询快照" in got.output, got.output
    # a snapshot changed in the database (barred made clean, signature kept) is built in as it is
    # now, under a valid manifest: the verifier names it
    target = session.get_one(CreditCheck, refused.id)
    outer = json.loads(target.statement)
    content = json.loads(base64.b64decode(outer["statement"]))
    content["body"]["result"] = "clean"
    outer["statement"] = base64.b64encode(canonical_json(content)).decode()
    forged = SignedStatement.from_json(canonical_json(outer)).to_json()
    target.statement = forged.decode()
    session.delete(session.get_one(ArchivePackage, row.id))
    session.flush()
    again = build_for(session, c, services(app))
    assert again is not None
    bad = tmp_path / "bad.zip"
    bad.write_bytes(services(app).archive_store.read_bytes(again.object_key))
    report = package_check.verify(str(bad), keys.ca.cert)
    what = f"信用查询快照 credit/checks/{refused.id}.json (credit check)"
    assert [(k.what, k.code) for k in report.checks if not k.ok] == [(what, "credit_check_invalid")]
    got = CliRunner().invoke(main, ["archive", "verify", str(bad), "--root", str(root)])
    assert got.exit_code == 1 and "credit_check_invalid" in got.output


def test_a_draw_suspension_keeps_the_expert_out_and_the_draw_verifies(
    client: FlaskClient, session: Session, app: Flask, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trading.cli import main
    from trading.evaluation.draws import verification_bundle

    with clock.frozen(dt.datetime.now(dt.UTC) + LATER):
        t = open_tender(client, session, app, 3)
        run_opening(client, app, t)
        users = _experts(session, t)
        ids = [session.scalars(select(Expert.id).where(Expert.user_id == u.id)).one() for u in users]
        out, short = ids[2], ids[3]
        over: dict[str, Any] = {
            "subject_kind": SubjectKind.EXPERT,
            "list_kind": CreditList.PLATFORM,
            "source": "rating",
            "region": "000000",
            "subject_name": "专家",
        }
        listed(session, str(out), Measure.DRAW_SUSPENSION, **over)  # open-ended
        yesterday = clock.local(clock.now()).date() - dt.timedelta(days=1)
        listed(session, str(short), Measure.DRAW_SUSPENSION, **over, ends_on=yesterday)
        d = draw_and_confirm(session, app, t, confirm=False)
        drawn = set(session.scalars(select(DrawMember.expert_id).where(DrawMember.draw_id == d.id)))
        bundle = verification_bundle(services(app).store, d)
    assert out not in drawn and len(drawn) == 4  # 8 experts, one employed by a bidder, one suspended: 6 for 4 seats
    pool = {c["id"]: c for c in json.loads(base64.b64decode(bundle["snapshot"]))["pool"]}
    assert pool[out]["suspended_until"] == "9999-12-31" and pool[short]["suspended_until"] is None
    _cli_env(app, monkeypatch)
    path = tmp_path / "draw.json"
    path.write_text(json.dumps(bundle))
    got = CliRunner().invoke(main, ["draw", "verify", str(path)])
    assert got.exit_code == 0, got.output


def test_a_send_back_to_compliance_checks_again_once(client: FlaskClient, session: Session, app: Flask) -> None:
    """The new round is a new evaluation time: every bidder is checked again, once."""
    from tests.factories import pass_every_bid, score_every_bid, user_named
    from trading.evaluation.credit_review import check_bidders, latest_checks
    from trading.evaluation.models import Evaluation
    from trading.evaluation.signoff import send_back

    with clock.frozen(dt.datetime.now(dt.UTC) + LATER):  # the send-back at the same instant: rounds, not times
        t = open_tender(client, session, app, 3, specialties=[{"code": "A01", "count": 5}])
        run_opening(client, app, t)
        room = start_review(client, session, app, t, 5)
        pass_every_bid(session, room)  # round 1 clean: no reason needed
        score_every_bid(session, app, room)
        codes = [b.user.organisation.credit_code for b in t["bidders"]]
        notice = listed(session, codes[1], Measure.NOTICE)
        ev = session.get_one(Evaluation, room["ev"]["id"])
        staff = user_named(session, t["staff_username"])
        send_back(session, staff, ev, "资格审查遗漏了信用记录，重新审查", "compliance", keys=services(app).keys)
        session.commit()
        assert check_bidders(session, services(app).keys, staff, ev) == []  # once per round
        events = [
            json.loads(e.payload)
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "credit.checked"))
        ]
        assert sorted(e["round"] for e in events) == [1, 1, 1, 2, 2, 2]
        latest = latest_checks(session, ev)
        found = {c.subject_id: c.found for c in latest.values()}
        assert [e["id"] for e in found[codes[1]]] == [notice.id] and found[codes[0]] == found[codes[2]] == []
        state = client.get(room["url"], headers=room["staff"]).get_json()
        assert state["round"] == 2 and state["state"] == "compliance"
        assert {b["credit_code"]: b["credit"]["result"] for b in state["bidders"]}[codes[1]] == "found"
