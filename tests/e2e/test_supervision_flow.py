"""Issue 21's end-to-end check, on PostgreSQL with the clock moved: a publicity objection answered
late (yellow, then red, and red stays), a complaint filed with SM2 and accepted, the lot suspended
(its clocks paused, the award refused), a statement asked and given, a decision 部分属实 with its
measures, the resumption, then the award. The warnings, the suspension and the decision are on the
supervisor's monitor, in the notices and in the lot's final archive package, which
``ggzy archive verify`` checks."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlalchemy import select

from archive import clock
from archive.audit import AuditEvent
from tests.factories import Signer, api_token, make_user, user_named
from tests.trading.opening.test_ceremony import open_tender
from tests.trading.supervision.test_complaints import file, signed_body
from tests.trading.test_draw import run_opening
from tests.trading.test_evaluation import evaluate_to_publicity, finish_award
from trading.accounts.models import Role
from trading.archives.building import build_due
from trading.archives.models import ArchivePackage
from trading.audit.tasks import sign_checkpoints_job
from trading.cli import main as ggzy
from trading.core.services import services
from trading.supervision.models import Colour, SupervisionClock
from trading.supervision.tasks import supervision_clocks_job
from trading.tenders.models import Notification

pytestmark = pytest.mark.integration


def sweep(app: Flask) -> None:
    """The scheduler's job, as it runs every 30 s: the seed rules once, then the clocks."""
    with app.extensions["ggzy.db"].session() as s:
        supervision_clocks_job(s, clock.now(), services(app))
        s.commit()


def clock_of(app: Flask, rule: str) -> SupervisionClock:
    with app.extensions["ggzy.db"].session() as s:
        row = s.scalars(select(SupervisionClock).where(SupervisionClock.rule_code == rule)).one()
        s.expunge(row)
        return row


def notices(app: Flask, org_id: int) -> list[str]:
    with app.extensions["ggzy.db"].session() as s:
        return list(s.scalars(select(Notification.message).where(Notification.org_id == org_id)))


def monitor_room(client: Any, headers: dict[str, str], tender: str) -> dict[str, Any]:
    body = client.get("/api/v1/supervision/monitor", headers=headers).get_json()
    return next(r for r in body["evaluations"] if r["tender"] == tender)


def test_a_late_answer_a_complaint_a_suspension_and_the_archive(pg_app: Flask, tmp_path: Any) -> None:
    app, client, db = pg_app, pg_app.test_client(), pg_app.extensions["ggzy.db"]
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=30)):
        with db.session() as session:
            t = open_tender(client, session, app, 3)
            supervisor = make_user(session, Role.SUPERVISOR)
            session.commit()
            sup_name, sup_org = supervisor.username, supervisor.organisation_id
            got_t = t
        run_opening(client, app, got_t)
        with db.session() as session, clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
            got = evaluate_to_publicity(client, session, app, t)
            url = got["url"]
            first = got["report"]["candidates"][0]["bidder_id"]
            winner = next(x["credit_code"] for x in got["report"]["ranking"] if x["bidder_id"] == first)
            loser = next(i for i, b in enumerate(t["bidders"]) if b.user.organisation.credit_code != winner)
            signer = Signer(t["bidders"][loser].user, t["bidders"][loser].sign_key)
            loser_org = t["bidders"][loser].user.organisation_id
            tenderee_org = user_named(session, t["tenderee_username"]).organisation_id
            session.commit()
            h = t["headers"][loser]
            sup = api_token(client, sup_name)

            # a publicity objection the tenderee answers late: green, yellow, red
            r = client.post(f"{url}/objections", json={"text": "第一名的项目经理同时在其他项目任职"}, headers=h)
            oid = r.get_json()["id"]
            sweep(app)
            k = clock_of(app, "objection_answer")
            assert k.colour is Colour.GREEN and k.stopped_seq is None
            moment.set(clock.as_utc(k.yellow_at) + dt.timedelta(minutes=1))
            sweep(app)
            assert clock_of(app, "objection_answer").colour is Colour.YELLOW
            room = monitor_room(client, api_token(client, sup_name), t["code"])
            assert any(w["rule_code"] == "objection_answer" and w["colour"] == "yellow" for w in room["warnings"])
            moment.set(clock.as_utc(k.due_at) + dt.timedelta(minutes=1))
            sweep(app)
            assert clock_of(app, "objection_answer").colour is Colour.RED
            ht = api_token(client, t["tenderee_username"])
            r = client.post(
                f"{url}/objections/{oid}/answer", json={"text": "经核查，该项目经理已解除原任职。"}, headers=ht
            )
            assert r.status_code == 200, r.get_json()
            sweep(app)
            late = clock_of(app, "objection_answer")
            assert late.stopped_seq is not None and late.worst is Colour.RED  # 红灯追责: it stays
            assert tenderee_org is not None
            warned = notices(app, tenderee_org)
            assert any("黄灯" in m for m in warned) and any("红灯" in m for m in warned), warned

            # a complaint, signed by the bidder; accepted; the lot suspended
            moment.advance(hours=1)
            body = signed_body(
                signer,
                t["code"],
                lot=1,
                matter="evaluation_result",
                grounds="第一中标候选人的项目经理同时在其他项目任职。",
            )
            r = file(client, h, body)
            assert r.status_code == 201, r.get_json()
            cid = r.get_json()["id"]
            sup = api_token(client, sup_name)
            assert client.post(f"/api/v1/complaints/{cid}/accept", json={}, headers=sup).status_code == 200
            r = client.post(f"/api/v1/complaints/{cid}/suspend", json={"reason": "调查期间暂停定标"}, headers=sup)
            assert r.status_code == 200, r.get_json()
            sweep(app)
            award_clock = clock_of(app, "award_after_publicity")
            assert award_clock.paused_since is not None  # the lot's clocks stop while it is suspended
            room = monitor_room(client, sup, t["code"])
            assert room["suspended"] and room["complaints"][0]["id"] == cid
            moment.advance(days=3, seconds=1)
            ht = api_token(client, t["tenderee_username"])
            r = client.post(f"{url}/award", json={"winner": first}, headers=ht)
            assert (r.status_code, r.get_json()["error"]["code"]) == (409, "lot_suspended")

            # a statement from the tenderee, then the decision 部分属实 and the resumption
            sup = api_token(client, sup_name)
            r = client.post(
                f"/api/v1/complaints/{cid}/ask",
                json={"org": tenderee_org, "question": "请说明第一中标候选人项目经理的任职情况。"},
                headers=sup,
            )
            assert r.status_code in (200, 201), r.get_json()
            rid = client.get("/api/v1/complaint-statements", headers=ht).get_json()["items"][0]["id"]
            r = client.post(
                f"/api/v1/complaint-statements/{rid}/answer",
                json={"text": "该项目经理已于投标前解除原任职，附解除证明。"},
                headers=ht,
            )
            assert r.status_code == 200, r.get_json()
            decision = {
                "finding": "partly",
                "decision": "经调查，该项目经理解除原任职的时间晚于投标截止，投诉部分属实。",
                "measures": "责令招标人组织原评标委员会重新评审该候选人的项目管理机构评分。",
            }
            r = client.post(f"/api/v1/complaints/{cid}/decide", json=decision, headers=sup)
            assert r.status_code == 200, r.get_json()
            assert client.post(f"/api/v1/complaints/{cid}/resume", json={}, headers=sup).status_code == 200
            sweep(app)
            assert clock_of(app, "award_after_publicity").paused_since is None
            room = monitor_room(client, sup, t["code"])
            assert not room["suspended"] and room["complaints"][0]["finding_label"] == "部分属实"
            assert any("部分属实" in m for m in notices(app, loser_org))
            assert any("暂停" in m for m in notices(app, tenderee_org))
            assert sup_org is not None

            finish_award(client, t, got, moment)
            with db.session() as s:
                sign_checkpoints_job(s, clock.now(), services(app))
                s.commit()
            with db.session() as s:
                assert build_due(s, services(app), clock.now()) >= 1
                s.commit()
            with db.session() as s:
                final = s.scalars(select(ArchivePackage).where(ArchivePackage.reason == "awarded")).one()
                data = services(app).archive_store.read_bytes(final.object_key)
                decided = s.scalars(select(AuditEvent.seq).where(AuditEvent.action == "complaint.decide")).one()

    path = tmp_path / "package.zip"
    path.write_bytes(data)
    root = tmp_path / "root.pem"
    root.write_bytes(services(app).keys.ca.cert.to_pem())
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        events = [json.loads(line) for line in z.read("log/events.jsonl").decode().splitlines()]
        kept = json.loads(z.read("supervision/clocks.json"))
    assert any(n.startswith("supervision/complaints/") and n.endswith("complaint.json") for n in names)
    assert sum(n.endswith(".sig.json") and n.startswith("supervision/") for n in names) >= 4  # 受理、暂停、说明、决定…
    actions = {e["action"] for e in events}
    assert {
        "supervision_clock.yellow",
        "supervision_clock.red",
        "complaint.file",
        "complaint.decide",
        "lot.suspend",
    } <= actions
    assert decided in {e["seq"] for e in events}
    assert any(k["rule"] == "objection_answer" and k["worst"] == "red" for k in kept)
    result = CliRunner().invoke(ggzy, ["archive", "verify", str(path), "--root", str(root)])
    assert result.exit_code == 0, result.output
    assert "投诉处理文书签名" in result.output
