"""The evaluation, from the opened lot to the award: the arithmetic as pure functions, then one
lot end to end through the API (on SQLite and on PostgreSQL): five experts from two regions, a
recusal replaced by a new draw, compliance by majority, a clarification, independent scoring, an
outlier resolved with a reason, the report signed by every expert (one dissent), publicity with an
objection that stops the clock, the award with its signed notice, the guarantees' release, the
final archive package, and ``ggzy draw verify`` over both rounds. Permissions and bad input along
the way."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import pathlib
import re
import zipfile
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock, package_check
from archive.audit import AuditEvent
from signing.digest import sm3_hex
from signing.statements import (
    SignedStatement,
    evaluation_pledge_statement,
    evaluation_report_statement,
    evaluation_signin_statement,
)
from tests.factories import (
    Signer,
    api_token,
    draw_and_confirm,
    make_signer,
    make_user,
    open_room_of,
    pass_every_bid,
    score_every_bid,
    valid_code,
)
from tests.trading.test_draw import opened_lot
from trading.accounts.models import Role
from trading.core.services import services
from trading.evaluation import scoring as sc
from trading.evaluation.draw import Slot

D = Decimal


# ---------------------------------------------------------------- the arithmetic
def test_gp87_low_price_formula() -> None:
    got = sc.price_scores("gp_low_price", 30, {1: D("100"), 2: D("125"), 3: D("150")})
    assert got == {1: D("30.00"), 2: D("24.00"), 3: D("20.00")}


def test_benchmark_formula_drops_extremes_from_five() -> None:
    prices = {i: D(p) for i, p in enumerate(["90", "95", "100", "105", "200"], 1)}
    assert sc.benchmark(list(prices.values())) == D(100)  # mean of 95, 100, 105
    got = sc.price_scores("benchmark", 40, prices)
    assert got[3] == D("40.00")  # at the benchmark
    assert got[4] == D("35.00")  # 5 % above: −1 per 1 %
    assert got[2] == D("37.50")  # 5 % below: −0.5 per 1 %
    assert got[5] == D("0.00")  # 100 % above: never below zero
    three = sc.price_scores("benchmark", 40, {1: D(100), 2: D(110), 3: D(120)})
    assert three[2] == D("40.00")  # fewer than five: the plain mean


def test_ranking_both_methods_and_ties() -> None:
    prices = {1: D(100), 2: D(90), 3: D(95)}
    lowest = sc.rank("lowest_price", "lowest", 100, prices, [])
    assert [(r.bidder, r.rank) for r in lowest] == [(2, 1), (3, 2), (1, 3)]
    sheets = [sc.Sheet(e, b, {"技术": D(s)}, D(s)) for e in (1, 2, 3) for b, s in ((1, 60), (2, 40), (3, 50))]
    got = sc.rank("comprehensive", "gp_low_price", 40, prices, sheets)
    # 1: 60 + 36.00 = 96.00; 2: 40 + 40 = 80.00; 3: 50 + 37.89 = 87.89
    assert [(r.bidder, r.total) for r in got] == [(1, D("96.00")), (3, D("87.89")), (2, D("80.00"))]
    tie = sc.rank("lowest_price", "lowest", 100, {1: D(5), 2: D(5)}, [])
    assert [r.rank for r in tie] == [1, 1]


def test_checks_find_each_kind_and_nothing_else() -> None:
    def sheet(e: int, total: str, obj: str = "8", declared: str | None = None) -> sc.Sheet:
        t = D(total)
        return sc.Sheet(e, 1, {"技术": t - D(obj), "业绩": D(obj)}, D(declared) if declared else t)

    calm = [sheet(e, s) for e, s in ((1, "40"), (2, "42"), (3, "41"), (4, "43"), (5, "40"))]
    assert sc.checks(calm, ["业绩"], 2.5) == []
    found = sc.checks([*calm[:4], sheet(5, "12")], ["业绩"], 2.5)
    assert [(f.kind, f.expert) for f in found] == [("outlier", 5)]
    found = sc.checks([*calm[:4], sheet(5, "40", obj="6")], ["业绩"], 2.5)
    assert [f.kind for f in found] == ["objective"] and found[0].factor == "业绩"
    found = sc.checks([*calm[:4], sheet(5, "40", declared="41")], ["业绩"], 2.5)
    assert [(f.kind, f.expert) for f in found] == [("arithmetic", 5)]
    assert sc.majority([True, True, False]) and not sc.majority([True, False]) and not sc.majority([])


# ---------------------------------------------------------------- one lot, end to end
def _sig(s: Signer, message: bytes) -> str:
    return base64.b64encode(s.key.sign(message)).decode()


def expert_pool(
    client: FlaskClient, session: Session, app: Flask, t: dict[str, Any], n_main: int, n_sub: int
) -> list[Any]:
    experts = [make_signer(session, app, Role.EXPERT) for _ in range(n_main + n_sub)]
    session.commit()
    out = []
    for i, s in enumerate(experts):
        body = {
            "name": f"专家{i}",
            "username": s.user.username,
            "specialties": ["A01"],
            "region": "350100" if i < n_main else "350200",
            "employer": valid_code(720_000_000 + i),
        }
        r = client.post("/api/v1/experts", json=body, headers=t["staff"])
        assert r.status_code == 201, r.get_json()
        out.append({"signer": s, "id": r.get_json()["id"], "h": api_token(client, s.user.username)})
    return out


def confirm_all(client: FlaskClient, pool: list[Any]) -> list[Any]:
    drawn = []
    for x in pool:
        for inv in client.get("/api/v1/me/invitations", headers=x["h"]).get_json()["items"]:
            if inv["state"] == "invited":
                r = client.post(f"/api/v1/invitations/{inv['id']}/respond", json={"accept": True}, headers=x["h"])
                assert r.status_code == 200, r.get_json()
                drawn.append(x)
    return drawn


def _enter(client: FlaskClient, ev: dict[str, Any], x: dict[str, Any], code: str, codes: list[str]) -> None:
    url = f"/api/v1/evaluations/{ev['id']}"
    s = x["signer"]
    r = client.post(
        f"{url}/signin",
        json={"signature": _sig(s, evaluation_signin_statement(ev["id"], code, 1, x["id"]))},
        headers=x["h"],
    )
    assert r.status_code == 200, r.get_json()
    r = client.post(
        f"{url}/pledge",
        json={"signature": _sig(s, evaluation_pledge_statement(ev["id"], x["id"], codes))},
        headers=x["h"],
    )
    assert r.status_code == 200, r.get_json()


CROSS_REGION = [
    {"region": "350100", "specialty": "A01", "count": 3},
    {"region": "350200", "specialty": "A01", "count": 2},
]
F1, F2 = "施工组织设计", "项目管理机构"


def _vote_all(client: FlaskClient, url: str, committee: list[Any], bids: list[int]) -> None:
    """Every member passes every bid, but the fifth fails the third."""
    for x in committee:
        for b in bids:
            body: dict[str, Any] = {"bidder": b, "passed": True}
            if x is committee[4] and b == bids[2]:
                body = {"bidder": b, "passed": False, "failed_items": ["营业执照"], "reason": "营业执照已过期"}
            r = client.post(f"{url}/compliance", json=body, headers=x["h"])
            assert r.status_code == 200, r.get_json()


def _score_all(client: FlaskClient, url: str, committee: list[Any], bids: list[int], after_lead: Any = None) -> None:
    """Each member alone; the fifth expert's score of the first bid is an outlier. ``after_lead``
    runs once the leader's sheets are in."""
    base = {bids[0]: 45, bids[1]: 40, bids[2]: 35}
    for n, x in enumerate(committee):
        for b in bids:
            s1 = 12 if (n == 4 and b == bids[0]) else base[b] + n % 2
            body = {"bidder": b, "scores": {F1: str(s1), F2: "8"}, "total": str(s1 + 8)}
            r = client.post(f"{url}/scores", json=body, headers=x["h"])
            assert r.status_code == 200, r.get_json()
        if n == 0 and after_lead is not None:
            after_lead()


RESOLUTION = {"reason": "经委员会讨论，该专家认为工期安排不合理，维持评分"}
DISSENT = "对第一名的施工组织设计评分有不同意见"


def _sign_all(client: FlaskClient, ev_id: int, url: str, committee: list[Any], sm3: str) -> None:
    """Every expert signs the report; the fifth dissents in writing."""
    for x in committee:
        dissent = DISSENT if x is committee[4] else ""
        sig = _sig(x["signer"], evaluation_report_statement(ev_id, 1, x["id"], sm3, dissent))
        r = client.post(f"{url}/sign", json={"signature": sig, "dissent": dissent}, headers=x["h"])
        assert r.status_code == 200, r.get_json()


def _verify_draws(
    client: FlaskClient, app: Flask, tmp_path: pathlib.Path, mp: pytest.MonkeyPatch, hs: dict[str, str], *ids: int
) -> None:
    """``ggzy draw verify`` recomputes each round from its exported bundle."""
    from trading.cli import main

    mp.setenv("DATABASE_URL", str(app.extensions["ggzy.settings"].database_url))
    mp.setenv("GGZY_INSTANCE", str(app.extensions["ggzy.settings"].instance))
    mp.setenv("GGZY_ENV", "test")
    for d in ids:
        path = tmp_path / f"draw-{d}.json"
        path.write_text(json.dumps(client.get(f"/api/v1/draws/{d}/bundle", headers=hs).get_json()))
        out = CliRunner().invoke(main, ["draw", "verify", str(path)])
        assert out.exit_code == 0, out.output


def _final_package(app: Flask) -> bytes:
    """The checkpoint signed, then the archive sweep: the lot's final package."""
    from trading.archives.building import build_due
    from trading.archives.models import ArchivePackage
    from trading.audit.tasks import sign_checkpoints_job

    db = app.extensions["ggzy.db"]
    with db.session() as s:
        sign_checkpoints_job(s, clock.now(), services(app))
        s.commit()
    with db.session() as s:
        assert build_due(s, services(app), clock.now()) >= 1
        s.commit()
    with db.session() as s:
        final = s.scalars(select(ArchivePackage).where(ArchivePackage.reason == "awarded")).one()
        return services(app).archive_store.read_bytes(final.object_key)


def test_a_lot_from_opening_record_to_award(
    client: FlaskClient, session: Session, app: Flask, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one path over HTTP, from the draw to the archive; each refusal on the way has its own
    test below, from a state the factories build."""
    t = opened_lot(client, session, app, specialties=[{"code": "A01", "count": 5}])
    code, hs = t["code"], t["staff"]
    codes = [b.user.organisation.credit_code for b in t["bidders"]]  # type: ignore[union-attr]
    pool = expert_pool(client, session, app, t, 5, 4)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        # the draw: 3 at the main venue, 2 at a sub-venue (cross-region)
        lot = f"/api/v1/tenders/{code}/lots/1"
        d1 = client.post(f"{lot}/draws", json={"slots": CROSS_REGION}, headers=hs).get_json()
        client.post(f"/api/v1/draws/{d1['id']}/run", headers=hs)
        drawn = confirm_all(client, pool)
        assert len(drawn) == 5 and {x["id"] for x in drawn}
        r = client.post(f"{lot}/evaluation", json={}, headers=hs)
        assert r.status_code == 201, r.get_json()
        ev = r.get_json()
        url = f"/api/v1/evaluations/{ev['id']}"
        # sign-in: everyone; one recuses and is replaced by a new draw
        leaving = next(x for x in drawn if x["id"] in [s["expert"] for s in ev["seats"]][3:])  # a sub-venue seat
        for x in drawn:
            if x is leaving:
                sig = _sig(x["signer"], evaluation_signin_statement(ev["id"], code, 1, x["id"]))
                client.post(f"{url}/signin", json={"signature": sig}, headers=x["h"])
                r = client.post(f"{url}/recuse", json={"reason": "曾为第二投标人提供咨询服务"}, headers=x["h"])
                assert r.status_code == 200, r.get_json()
            else:
                _enter(client, ev, x, code, codes)
        d2 = client.post(f"{lot}/draws/replace", json={}, headers=hs)
        assert d2.status_code == 201, d2.get_json()
        client.post(f"/api/v1/draws/{d2.get_json()['id']}/run", headers=hs)
        new = confirm_all(client, [x for x in pool if x not in drawn])
        assert len(new) == 1
        _enter(client, ev, new[0], code, codes)
        committee = [x for x in drawn if x is not leaving] + new
        regions = {s["region"] for s in client.get(url, headers=hs).get_json()["seats"] if not s["recused"]}
        assert regions == {"350100", "350200"}
        lead = committee[0]
        for x in committee[:3]:
            client.post(f"{url}/leader", json={"candidate": lead["id"]}, headers=x["h"])
        assert client.post(f"{url}/advance", headers=lead["h"]).get_json()["state"] == "compliance"
        bids = [b["id"] for b in client.get(url, headers=lead["h"]).get_json()["bidders"]]
        assert client.get(f"{url}/bids/{bids[0]}/copy", headers=lead["h"], buffered=True).status_code == 200
        _vote_all(client, url, committee, bids)  # compliance by majority
        state = client.post(f"{url}/advance", headers=lead["h"]).get_json()
        assert state["state"] == "scoring" and all(b["compliance"]["passed"] for b in state["bidders"])
        # a clarification, answered by the bidder through the platform
        q = {"bidder": bids[0], "question": "请说明施工组织设计中的工期安排", "hours": 24}
        cid = client.post(f"{url}/clarify", json=q, headers=lead["h"]).get_json()["clarification"]
        r = client.post(
            f"/api/v1/clarifications/{cid}/answer", json={"text": "工期为 180 日历天"}, headers=t["headers"][0]
        )
        assert r.status_code == 200
        _score_all(client, url, committee, bids)  # an outlier, resolved with a reason
        assert client.post(f"{url}/advance", headers=lead["h"]).get_json()["error"]["code"] == "flags_open"
        fid = client.get(url, headers=lead["h"]).get_json()["flags"][0]["id"]
        assert client.post(f"{url}/flags/{fid}/resolve", json=RESOLUTION, headers=lead["h"]).status_code == 200
        state = client.post(f"{url}/advance", headers=lead["h"]).get_json()
        assert state["state"] == "signing" and len(state["report_sm3"]) == 64
        sm3, ranking = state["report_sm3"], state["report"]["ranking"]
        _sign_all(client, ev["id"], url, committee, sm3)
        assert client.get(url, headers=hs).get_json()["state"] == "reported"
        # publicity: an objection stops the clock until the tenderee answers
        assert client.post(f"{url}/publicity", headers=hs).status_code == 200
        pub = client.get(f"{url}/publicity").get_json()  # public
        winner = pub["candidates"][0]["bidder_id"]
        winner_code = next(x["credit_code"] for x in ranking if x["bidder_id"] == winner)
        loser_i = next(i for i in range(3) if codes[i] != winner_code)
        moment.advance(days=1)
        text = {"text": "第一名的项目经理同时在其他项目任职"}
        r = client.post(f"{url}/objections", json=text, headers=t["headers"][loser_i])
        assert r.status_code == 201
        moment.advance(days=3)  # past the original end, but the lot waits
        ht = api_token(client, t["tenderee_username"])
        answer = {"text": "经核查，该项目经理已于投标前解除原任职"}
        assert client.post(f"{url}/objections/{r.get_json()['id']}/answer", json=answer, headers=ht).status_code == 200
        moment.advance(days=2, seconds=1)
        ht = api_token(client, t["tenderee_username"])  # a new day
        r = client.post(f"{url}/award", json={"winner": winner}, headers=ht)
        assert r.status_code == 200, r.get_json()
        notice = SignedStatement.from_json(r.get_json()["notice_statement"].encode())
        notice.verify(trusted=services(app).keys.sign_cert, expected_type="award_notice")
        assert notice.body["report_sm3"] == sm3
        assert client.get(f"/api/v1/tenders/{code}").get_json()["lots"][0]["status"] == "awarded"
        hs = api_token(client, t["staff_username"])
        _verify_draws(client, app, tmp_path, monkeypatch, hs, d1["id"], d2.get_json()["id"])  # both rounds
        # the contract; the final archive package over a signed log
        assert client.post(f"{url}/contract", headers=ht).status_code == 200
        data = _final_package(app)
        report = package_check.verify(io.BytesIO(data), services(app).keys.ca.cert)
        assert report.ok, list(report.lines())
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        for n in ("evaluation/report.json", "evaluation/report.pdf", "evaluation/report.sig.json", "award/notice.pdf"):
            assert n in names
        events = zipfile.ZipFile(io.BytesIO(data)).read("log/events.jsonl").decode()
        assert "evaluation.flag_resolve" in events and "evaluation.objection" in events and "lot.award" in events


def test_the_room_opens_for_a_confirmed_committee_only(client: FlaskClient, session: Session, app: Flask) -> None:
    """Drawn across two regions, not yet confirmed: no room; confirmed: staff open it, see the
    names; nobody outside the committee sees the room."""
    t = opened_lot(client, session, app, specialties=[{"code": "A01", "count": 5}])
    hs = t["staff"]
    pool = expert_pool(client, session, app, t, 5, 4)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        lot = f"/api/v1/tenders/{t['code']}/lots/1"
        refused = client.post(f"{lot}/evaluation", json={}, headers=hs).get_json()["error"]
        assert refused == {**refused, "code": "committee_incomplete", "message": "尚未从专家库抽取评标专家"}
        draw_and_confirm(session, app, t, [Slot(s["region"], s["specialty"], s["count"]) for s in CROSS_REGION], False)
        assert (
            client.post(f"{lot}/evaluation", json={}, headers=hs).get_json()["error"]["code"] == "committee_incomplete"
        )
        drawn = confirm_all(client, pool)
        assert len(drawn) == 5 and {x["id"] for x in drawn}
        assert client.post(f"{lot}/evaluation", json={}, headers=t["headers"][0]).status_code == 403
        assert client.post(f"{lot}/evaluation", json={"candidates": 4}, headers=hs).status_code == 422
        r = client.post(f"{lot}/evaluation", json={}, headers=hs)
        assert r.status_code == 201, r.get_json()
        ev = r.get_json()
        url = f"/api/v1/evaluations/{ev['id']}"
        assert {s["name"] for s in ev["seats"]} == {f"专家{pool.index(x)}" for x in drawn}  # names, now
        outsider = next(x for x in pool if x not in drawn)
        assert client.get(url, headers=outsider["h"]).status_code == 403  # not on this committee
        assert client.get(url, headers=t["headers"][0]).status_code == 403  # bidders never see the room
        assert client.get(url).status_code == 401


def test_a_recusal_leaves_the_committee_incomplete(client: FlaskClient, session: Session, app: Flask) -> None:
    t = opened_lot(client, session, app, specialties=[{"code": "A01", "count": 5}])
    committee = expert_pool(client, session, app, t, 5, 0)
    codes = [b.user.organisation.credit_code for b in t["bidders"]]  # type: ignore[union-attr]
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        draw_and_confirm(session, app, t)
        ev = {"id": open_room_of(session, app, t)}
        url = f"/api/v1/evaluations/{ev['id']}"
        bad = {"signature": _sig(committee[0]["signer"], b"something else")}
        assert (
            client.post(f"{url}/signin", json=bad, headers=committee[0]["h"]).get_json()["error"]["code"]
            == "invalid_signature"
        )
        leaving = committee[4]
        sig = _sig(leaving["signer"], evaluation_signin_statement(ev["id"], t["code"], 1, leaving["id"]))
        client.post(f"{url}/signin", json={"signature": sig}, headers=leaving["h"])
        assert client.post(f"{url}/recuse", json={"reason": ""}, headers=leaving["h"]).status_code == 422
        r = client.post(f"{url}/recuse", json={"reason": "曾为第二投标人提供咨询服务"}, headers=leaving["h"])
        assert r.status_code == 200, r.get_json()
        for x in committee[:4]:
            _enter(client, ev, x, t["code"], codes)
        assert client.post(f"{url}/advance", headers=t["staff"]).get_json()["error"]["code"] == "committee_incomplete"


def test_the_review_starts_under_an_elected_leader_only(client: FlaskClient, session: Session, app: Flask) -> None:
    t = opened_lot(client, session, app, specialties=[{"code": "A01", "count": 5}])
    committee = expert_pool(client, session, app, t, 5, 0)
    codes = [b.user.organisation.credit_code for b in t["bidders"]]  # type: ignore[union-attr]
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        draw_and_confirm(session, app, t)
        ev = {"id": open_room_of(session, app, t)}
        url, hs = f"/api/v1/evaluations/{ev['id']}", t["staff"]
        for x in committee:
            _enter(client, ev, x, t["code"], codes)
        assert client.post(f"{url}/advance", headers=hs).get_json()["error"]["code"] == "no_leader"
        lead = committee[0]
        for x in committee[:3]:
            client.post(f"{url}/leader", json={"candidate": lead["id"]}, headers=x["h"])
        assert client.get(url, headers=hs).get_json()["leader"] == lead["id"]
        assert client.post(f"{url}/advance", headers=committee[1]["h"]).get_json()["error"]["code"] == "not_leader"
        assert client.post(f"{url}/advance", headers=lead["h"]).get_json()["state"] == "compliance"


def test_bid_copies_are_watermarked_and_each_download_logged(client: FlaskClient, session: Session, app: Flask) -> None:
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        room = room_in_compliance(client, session, app)
        url, lead, bids = room["url"], room["committee"][0], room["bids"]
        r = client.get(f"{url}/bids/{bids[0]}/copy", headers=lead["h"], buffered=True)
        assert r.status_code == 200 and r.mimetype == "application/zip" and r.content_length == len(r.data)
        z = zipfile.ZipFile(io.BytesIO(r.data))
        assert "水印说明.txt" in z.namelist() and "专家" in z.comment.decode()
        access = session.scalars(select(AuditEvent).where(AuditEvent.action == "evaluation.bid_access")).one()
        assert json.loads(access.payload)["copy_sm3"] == sm3_hex(r.data)  # the log names exactly the bytes handed out
        again = client.get(f"{url}/bids/{bids[0]}/copy", headers=lead["h"], buffered=True)
        assert again.data != r.data and sm3_hex(again.data) in {  # each download its own numbered copy
            json.loads(e.payload)["copy_sm3"]
            for e in session.scalars(select(AuditEvent).where(AuditEvent.action == "evaluation.bid_access"))
        }
        # a decrypted bid that is not a zip package: a clear refusal, and no access logged
        from trading.opening.models import CeremonyBidder

        seat = session.get(CeremonyBidder, bids[1])
        assert seat is not None
        seat.plaintext_key = services(app).store.put_bytes(b"not a zip").key
        session.commit()
        logged = session.scalar(select(func.count()).select_from(AuditEvent))
        r = client.get(f"{url}/bids/{bids[1]}/copy", headers=lead["h"], buffered=True)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "not_a_package"
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == logged


def test_compliance_is_decided_by_majority(client: FlaskClient, session: Session, app: Flask) -> None:
    """One expert fails the third bid, the others pass it: it passes; bad items and missing votes
    are refused."""
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        room = room_in_compliance(client, session, app)
        url, committee, bids = room["url"], room["committee"], room["bids"]
        lead = committee[0]
        bad = {"bidder": bids[2], "passed": False, "failed_items": ["不存在的审查项"], "reason": "不符合"}
        assert client.post(f"{url}/compliance", json=bad, headers=lead["h"]).status_code == 422
        assert client.post(f"{url}/advance", headers=lead["h"]).get_json()["error"]["code"] == "votes_missing"
        _vote_all(client, url, committee, bids)
        state = client.post(f"{url}/advance", headers=lead["h"]).get_json()
        assert state["state"] == "scoring" and all(b["compliance"]["passed"] for b in state["bidders"])


def test_a_clarification_is_asked_by_the_leader_and_answered_by_its_bidder(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        room = room_in_compliance(client, session, app)
        pass_every_bid(session, room)
        url, committee, bids, t = room["url"], room["committee"], room["bids"], room["t"]
        q = {"bidder": bids[0], "question": "请说明施工组织设计中的工期安排", "hours": 24}
        assert client.post(f"{url}/clarify", json=q, headers=committee[1]["h"]).status_code == 403
        cid = client.post(f"{url}/clarify", json=q, headers=committee[0]["h"]).get_json()["clarification"]
        mine = client.get("/api/v1/me/clarifications", headers=t["headers"][0]).get_json()["items"]
        assert [c["id"] for c in mine] == [cid]
        assert (
            client.post(
                f"/api/v1/clarifications/{cid}/answer", json={"text": "好"}, headers=t["headers"][1]
            ).status_code
            == 404
        )
        r = client.post(
            f"/api/v1/clarifications/{cid}/answer", json={"text": "工期为 180 日历天"}, headers=t["headers"][0]
        )
        assert r.status_code == 200


def test_scores_are_independent_and_an_outlier_is_resolved_with_a_reason(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        room = room_in_compliance(client, session, app)
        pass_every_bid(session, room)
        url, committee, bids = room["url"], room["committee"], room["bids"]
        lead = committee[0]
        bad_scores = {"bidder": bids[0], "scores": {F1: "51", F2: "8"}, "total": "59"}
        assert client.post(f"{url}/scores", json=bad_scores, headers=lead["h"]).status_code == 422  # above the weight
        wrong = {"bidder": bids[0], "scores": {F1: "40"}, "total": "40"}
        assert (
            client.post(f"{url}/scores", json=wrong, headers=lead["h"]).get_json()["error"]["code"]
            == "factors_mismatch"
        )

        def independent() -> None:  # the leader's are all in; another member sees only its own
            sheets = client.get(url, headers=committee[1]["h"]).get_json()["sheets"]
            others = [s for s in sheets if s["expert"] != committee[1]["id"]]
            assert others == []

        _score_all(client, url, committee, bids, independent)
        r = client.post(f"{url}/advance", headers=lead["h"])
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "flags_open"
        flags = client.get(url, headers=lead["h"]).get_json()["flags"]
        assert [(f["kind"], f["expert"]) for f in flags] == [("outlier", committee[4]["id"])]
        fid = flags[0]["id"]
        assert client.post(f"{url}/flags/{fid}/resolve", json={"reason": "短"}, headers=lead["h"]).status_code == 422
        assert (
            client.post(f"{url}/flags/{fid}/resolve", json={"reason": "经讨论"}, headers=committee[2]["h"]).status_code
            == 403
        )
        r = client.post(f"{url}/flags/{fid}/resolve", json=RESOLUTION, headers=lead["h"])
        assert r.status_code == 200
        state = client.post(f"{url}/advance", headers=lead["h"]).get_json()
        assert state["state"] == "signing" and len(state["report_sm3"]) == 64
        # each advance recorded its checks once: the first raised the outlier, the second found
        # nothing new (the recheck under the lock, before the report, adds no empty event)
        checks = session.scalars(select(AuditEvent).where(AuditEvent.action == "evaluation.checks")).all()
        assert [len(json.loads(e.payload)["raised"]) for e in checks] == [1, 0]
        ranking = state["report"]["ranking"]
        assert [x["rank"] for x in ranking] == [1, 2, 3] and len(state["report"]["candidates"]) == 3
        assert client.get(f"{url}/report.pdf", headers=lead["h"]).data.startswith(b"%PDF")


def test_a_dissent_is_signed_for_and_kept_in_the_report(client: FlaskClient, session: Session, app: Flask) -> None:
    """A signature over agreement sent with a dissent is refused; the platform's statement over the
    report carries every signature, the dissent included."""
    from trading.evaluation.models import Evaluation

    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        room = room_in_compliance(client, session, app)
        pass_every_bid(session, room)
        sm3 = score_every_bid(session, app, room)["report_sm3"]
        url, committee, ev_id = room["url"], room["committee"], room["ev"]["id"]
        x = committee[4]
        wrong_sig = _sig(x["signer"], evaluation_report_statement(ev_id, 1, x["id"], sm3, ""))
        r = client.post(f"{url}/sign", json={"signature": wrong_sig, "dissent": DISSENT}, headers=x["h"])
        assert r.get_json()["error"]["code"] == "invalid_signature"  # signed agreement, sent dissent
        _sign_all(client, ev_id, url, committee, sm3)
        state = client.get(url, headers=room["staff"]).get_json()
        assert state["state"] == "reported"
        row = session.get(Evaluation, ev_id)
        session.refresh(row)
        assert row is not None and row.report_statement
        body = SignedStatement.from_json(row.report_statement.encode()).body
        assert len(body["signatures"]) == 5 and sum(not s["agree"] for s in body["signatures"]) == 1


def test_an_objection_stops_the_publicity_until_answered_then_the_award(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    from tests.trading.opening.test_ceremony import open_tender
    from tests.trading.test_draw import run_opening

    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    codes = [b.user.organisation.credit_code for b in t["bidders"]]  # type: ignore[union-attr]
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_report(client, session, app, t)
        url, hs, lead = got["url"], got["staff"], got["committee"][0]
        sm3 = client.get(url, headers=hs).get_json()["report_sm3"]
        assert client.post(f"{url}/publicity", headers=lead["h"]).status_code == 403
        r = client.post(f"{url}/publicity", headers=hs)
        assert r.status_code == 200, r.get_json()
        pub = client.get(f"{url}/publicity").get_json()  # public
        assert [c["rank"] for c in pub["candidates"]] == [1, 2, 3] and not pub["ended"]
        winner = pub["candidates"][0]["bidder_id"]
        winner_code = next(x["credit_code"] for x in got["report"]["ranking"] if x["bidder_id"] == winner)
        loser_i = next(i for i in range(3) if codes[i] != winner_code)
        moment.advance(days=1)
        text = {"text": "第一名的项目经理同时在其他项目任职"}
        r = client.post(f"{url}/objections", json=text, headers=t["headers"][loser_i])
        assert r.status_code == 201
        oid = r.get_json()["id"]
        assert client.post(f"{url}/objections", json=text, headers=t["outsider"]).status_code == 403
        moment.advance(days=3)  # past the original end, but the lot waits
        ht = api_token(client, t["tenderee_username"])
        r = client.post(f"{url}/award", json={"winner": winner}, headers=ht)
        assert r.get_json()["error"]["code"] == "objection_open"
        assert (
            client.post(f"{url}/objections/{oid}/answer", json={"text": "经核查"}, headers=t["headers"][0]).status_code
            == 403
        )
        r = client.post(
            f"{url}/objections/{oid}/answer", json={"text": "经核查，该项目经理已于投标前解除原任职"}, headers=ht
        )
        assert r.status_code == 200
        assert not r.get_json()["ended"]  # the 2 days left when it was suspended still run
        assert (
            client.post(f"{url}/award", json={"winner": winner}, headers=ht).get_json()["error"]["code"]
            == "publicity_running"
        )
        moment.advance(days=2, seconds=1)
        ht, hs = api_token(client, t["tenderee_username"]), api_token(client, t["staff_username"])  # a new day
        second = pub["candidates"][1]["bidder_id"]
        assert client.post(f"{url}/award", json={"winner": second}, headers=ht).status_code == 422  # no reason
        assert client.post(f"{url}/award", json={"winner": 999_999}, headers=ht).status_code == 422
        assert client.post(f"{url}/award", json={"winner": winner}, headers=hs).status_code == 403
        r = client.post(f"{url}/award", json={"winner": winner}, headers=ht)
        assert r.status_code == 200, r.get_json()
        got = r.get_json()
        assert got["state"] == "awarded"
        notice = SignedStatement.from_json(got["notice_statement"].encode())
        notice.verify(trusted=services(app).keys.sign_cert, expected_type="award_notice")
        assert notice.body["report_sm3"] == sm3
        assert client.get(f"{url}/notice.pdf").data.startswith(b"%PDF")
        assert client.get(f"/api/v1/tenders/{t['code']}").get_json()["lots"][0]["status"] == "awarded"
        assert client.post(f"{url}/contract", headers=ht).status_code == 200
        assert client.post(f"{url}/contract", headers=ht).status_code == 409


def test_room_pages_render_for_staff_and_expert(client: FlaskClient, session: Session, app: Flask) -> None:
    from tests.factories import page_login

    t = opened_lot(client, session, app, specialties=[{"code": "A01", "count": 5}])
    pool = expert_pool(client, session, app, t, 5, 0)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        lot = f"/api/v1/tenders/{t['code']}/lots/1"
        d = client.post(f"{lot}/draws", json={}, headers=t["staff"]).get_json()
        client.post(f"/api/v1/draws/{d['id']}/run", headers=t["staff"])
        confirm_all(client, pool)
        ev = client.post(f"{lot}/evaluation", json={}, headers=t["staff"]).get_json()
        page_login(client, pool[0]["signer"].user.username)
        assert f"/evaluations/{ev['id']}" in client.get("/expert").get_data(as_text=True)  # the way in
        html = client.get(f"/evaluations/{ev['id']}").get_data(as_text=True)
        assert "远程异地评标室" in html and "签名密钥" in html
        assert client.get(f"/evaluations/{ev['id']}/publicity").status_code == 404  # not public yet
        staff = make_user(session, Role.STAFF)
        session.commit()
        page_login(client, staff.username)
        html = client.get(f"/tenders/{t['code']}/lots/1/draws").get_data(as_text=True)
        assert "进入评标室" in html


def room_in_compliance(client: FlaskClient, session: Session, app: Flask, **lot: Any) -> dict[str, Any]:
    """Five experts of one region signed in and pledged, a leader, the review started."""
    t = opened_lot(client, session, app, specialties=[{"code": "A01", "count": 5}], **lot)
    return start_review(client, session, app, t, 5)


def _open_room(
    client: FlaskClient, session: Session, app: Flask, t: dict[str, Any], n: int
) -> tuple[list[Any], dict[str, Any]]:
    """``n`` experts of the lot's region in the pool, the lot's committee drawn from them and
    confirmed, the room opened by staff (``t["staff"]``): the drawn experts and the room."""
    pool = expert_pool(client, session, app, t, n, 0)
    lot = f"/api/v1/tenders/{t['code']}/lots/1"
    d = client.post(f"{lot}/draws", json={}, headers=t["staff"]).get_json()
    client.post(f"/api/v1/draws/{d['id']}/run", headers=t["staff"])
    committee = confirm_all(client, pool)
    return committee, client.post(f"{lot}/evaluation", json={}, headers=t["staff"]).get_json()


def _representatives(client: FlaskClient, t: dict[str, Any]) -> list[Any]:
    """The tenderee names itself to the lot's representative seat (one at most in these tests), a
    committee member like the drawn ones."""
    lot = f"/api/v1/tenders/{t['code']}/lots/1/representatives"
    if not client.get(lot, headers=t["tenderee"]).get_json()["required"]:
        return []
    r = client.post(lot, json={"username": t["tenderee_username"]}, headers=t["tenderee"])
    assert r.status_code == 201, r.get_json()
    return [{"signer": t["tenderee_signer"], "id": r.get_json()["named"][0]["expert"], "h": t["tenderee"]}]


def start_review(client: FlaskClient, session: Session, app: Flask, t: dict[str, Any], n: int) -> dict[str, Any]:
    """A closed opening (``t`` as ``open_tender`` returns it, the clock frozen): ``n`` experts of
    the lot's region drawn, confirmed, signed in and pledged, the first elected leader, the
    compliance review started, all through the API."""
    from trading.opening.models import CeremonyBidder, Outcome

    hs = api_token(client, t["staff_username"])
    committee, ev = _open_room(client, session, app, {**t, "staff": hs}, n)
    url = f"/api/v1/evaluations/{ev['id']}"
    codes = sorted(  # the pledge names the bids under evaluation: those decrypted at the opening
        b.user.organisation.credit_code  # type: ignore[union-attr]
        for b in t["bidders"]
        if session.scalar(
            select(CeremonyBidder.id).where(
                CeremonyBidder.org_id == b.user.organisation_id, CeremonyBidder.outcome == Outcome.DECRYPTED
            )
        )
    )
    session.commit()  # end the read: on SQLite an open read would hold the writers of the live server
    committee += _representatives(client, t)
    for x in committee:
        _enter(client, ev, x, t["code"], codes)
    for x in committee[:3]:
        client.post(f"{url}/leader", json={"candidate": committee[0]["id"]}, headers=x["h"])
    assert client.post(f"{url}/advance", headers=committee[0]["h"]).get_json()["state"] == "compliance"
    bids = [b["id"] for b in client.get(url, headers=hs).get_json()["bidders"]]
    return {"t": t, "url": url, "committee": committee, "bids": bids, "ev": ev, "staff": hs}


def test_send_back_starts_a_new_round_with_the_sheets_carried_over(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        r = room_in_compliance(client, session, app)
        url, committee, bids, hs = r["url"], r["committee"], r["bids"], r["t"]["staff"]
        for x in committee:
            for b in bids:
                client.post(f"{url}/compliance", json={"bidder": b, "passed": True}, headers=x["h"])
        client.post(f"{url}/advance", headers=committee[0]["h"])
        for x in committee:
            for n, b in enumerate(bids):
                body = {"bidder": b, "scores": {"施工组织设计": str(40 - n), "项目管理机构": "8"}, "total": str(48 - n)}
                client.post(f"{url}/scores", json=body, headers=x["h"])
        first = client.post(f"{url}/advance", headers=committee[0]["h"]).get_json()
        assert first["state"] == "signing"
        assert client.post(f"{url}/send-back", json={"reason": "短"}, headers=hs).status_code == 422
        assert (
            client.post(f"{url}/send-back", json={"reason": "价格分计算有误"}, headers=committee[0]["h"]).status_code
            == 403
        )
        back = client.post(f"{url}/send-back", json={"reason": "第二名报价的算术错误需复核"}, headers=hs).get_json()
        assert back["state"] == "scoring" and back["round"] == 2 and back["report_sm3"] is None
        assert back["history"][0]["report_sm3"] == first["report_sm3"]
        assert back["sheets"] == []  # staff do not see scores while scoring runs
        assert len(client.get(url, headers=committee[0]["h"]).get_json()["sheets"]) == 15  # carried over
        body = {"bidder": bids[1], "scores": {"施工组织设计": "38", "项目管理机构": "8"}, "total": "46"}
        assert client.post(f"{url}/scores", json=body, headers=committee[2]["h"]).status_code == 200
        second = client.post(f"{url}/advance", headers=committee[0]["h"]).get_json()
        assert "state" in second, second
        assert second["state"] == "signing" and second["report_sm3"] != first["report_sm3"]
        assert (
            second["report"]["round"] == 2 and second["report"]["history"][0]["reason"] == "第二名报价的算术错误需复核"
        )
        # a signature over the first round's report does not count for the second
        x = committee[0]
        old = _sig(x["signer"], evaluation_report_statement(r["ev"]["id"], 1, x["id"], first["report_sm3"], ""))
        assert (
            client.post(f"{url}/sign", json={"signature": old}, headers=x["h"]).get_json()["error"]["code"]
            == "invalid_signature"
        )


def test_every_bid_rejected_fails_the_lot(client: FlaskClient, session: Session, app: Flask) -> None:
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        r = room_in_compliance(client, session, app)
        url, committee, bids = r["url"], r["committee"], r["bids"]
        for x in committee:
            for b in bids:
                body = {"bidder": b, "passed": False, "failed_items": ["营业执照"], "reason": "营业执照已过期"}
                assert client.post(f"{url}/compliance", json=body, headers=x["h"]).status_code == 200
        state = client.post(f"{url}/advance", headers=committee[0]["h"]).get_json()
        assert state["state"] == "reported" and not any(b["compliance"]["passed"] for b in state["bidders"])
        lots = client.get(f"/api/v1/tenders/{r['t']['code']}").get_json()["lots"]
        assert lots[0]["status"] == "failed"
        assert client.post(f"{url}/publicity", headers=r["t"]["staff"]).get_json()["error"]["code"] == "no_candidates"


def test_a_member_without_the_pledge_is_refused_every_act_of_the_review(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """The recusal pledge is a guard on the seat (``Seat.require_pledged``), not a consequence of
    the order of the stages: a member whose pledge is missing is refused with 403 ``not_pledged``
    by every act of the review (its copy of a bid, its compliance vote, its scores, its signature
    on the report, and the leader's own steps), and nothing it tried is recorded."""
    from trading.evaluation.models import ComplianceVote, ReportSignature, ScoreSheet, Seat

    def unpledge(x: dict[str, Any]) -> tuple[Seat, Any]:
        seat = session.scalars(select(Seat).where(Seat.evaluation_id == ev_id, Seat.expert_id == x["id"])).one()
        pledged, seat.pledged_at = seat.pledged_at, None
        session.commit()
        return seat, pledged

    def refused(r: Any) -> None:
        assert (r.status_code, r.get_json()["error"]["code"]) == (403, "not_pledged"), r.get_json()

    def count(model: Any) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)):
        r = room_in_compliance(client, session, app)
        url, committee, bids, ev_id = r["url"], r["committee"], r["bids"], r["ev"]["id"]
        lead, member = committee[0], committee[1]
        seat, pledged = unpledge(member)
        refused(client.get(f"{url}/bids/{bids[0]}/copy", headers=member["h"]))
        refused(client.post(f"{url}/compliance", json={"bidder": bids[0], "passed": True}, headers=member["h"]))
        assert count(ComplianceVote) == 0
        lead_seat, lead_pledged = unpledge(lead)
        refused(client.post(f"{url}/advance", headers=lead["h"]))
        refused(
            client.post(f"{url}/clarify", json={"bidder": bids[0], "question": "请说明工期安排"}, headers=lead["h"])
        )
        seat.pledged_at, lead_seat.pledged_at = pledged, lead_pledged
        session.commit()
        for x in committee:
            for b in bids:
                client.post(f"{url}/compliance", json={"bidder": b, "passed": True}, headers=x["h"])
        assert client.post(f"{url}/advance", headers=lead["h"]).get_json()["state"] == "scoring"
        unpledge(member)
        body = {"bidder": bids[0], "scores": {"施工组织设计": "40", "项目管理机构": "8"}, "total": "48"}
        refused(client.post(f"{url}/scores", json=body, headers=member["h"]))
        assert count(ScoreSheet) == 0
        seat.pledged_at = pledged
        session.commit()
        for x in committee:
            for b in bids:
                body = {"bidder": b, "scores": {"施工组织设计": "40", "项目管理机构": "8"}, "total": "48"}
                assert client.post(f"{url}/scores", json=body, headers=x["h"]).status_code == 200
        report = client.post(f"{url}/advance", headers=lead["h"]).get_json()
        assert report["state"] == "signing", report
        unpledge(member)
        sig = _sig(member["signer"], evaluation_report_statement(ev_id, 1, member["id"], report["report_sm3"], ""))
        refused(client.post(f"{url}/sign", json={"signature": sig}, headers=member["h"]))
        assert count(ReportSignature) == 0


def test_the_leader_vote_needs_the_pledge(client: FlaskClient, session: Session, app: Flask) -> None:
    """Signed in but not pledged: the vote for the leader is refused with the same named 403."""
    t = opened_lot(client, session, app, specialties=[{"code": "A01", "count": 5}])
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        committee, ev = _open_room(client, session, app, t, 5)
        x = committee[0]
        url = f"/api/v1/evaluations/{ev['id']}"
        sig = _sig(x["signer"], evaluation_signin_statement(ev["id"], t["code"], 1, x["id"]))
        assert client.post(f"{url}/signin", json={"signature": sig}, headers=x["h"]).status_code == 200
        r = client.post(f"{url}/leader", json={"candidate": x["id"]}, headers=x["h"])
        assert (r.status_code, r.get_json()["error"]["code"]) == (403, "not_pledged")


def evaluate_to_publicity(client: FlaskClient, session: Session, app: Flask, t: dict[str, Any]) -> dict[str, Any]:
    """``evaluate_to_report``, then the candidates publicised by staff."""
    got = evaluate_to_report(client, session, app, t)
    assert client.post(f"{got['url']}/publicity", headers=got["staff"]).status_code == 200
    return got


def evaluate_to_report(client: FlaskClient, session: Session, app: Flask, t: dict[str, Any]) -> dict[str, Any]:
    """``start_review`` with four experts (and the tenderee's representative), then every bid
    passed, scored, the report generated and signed by all, all through the API."""
    r = start_review(client, session, app, t, 4)
    url, committee, bids, hs, ev = r["url"], r["committee"], r["bids"], r["staff"], r["ev"]
    lead = committee[0]["h"]
    for x in committee:
        for b in bids:
            client.post(f"{url}/compliance", json={"bidder": b, "passed": True}, headers=x["h"])
    client.post(f"{url}/advance", headers=lead)
    for x in committee:
        for n, b in enumerate(bids):
            body = {"bidder": b, "scores": {"施工组织设计": str(45 - n), "项目管理机构": "8"}, "total": str(53 - n)}
            client.post(f"{url}/scores", json=body, headers=x["h"])
    report = client.post(f"{url}/advance", headers=lead).get_json()
    assert report["state"] == "signing", report
    members = report["report"]["committee"]  # four drawn experts and the tenderee's representative
    assert len(members) == 5 and [m["representative"] for m in members].count(True) == 1
    from pypdf import PdfReader

    pdf = client.get(f"{url}/report.pdf", headers=hs).data
    assert "招标人代表" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for x in committee:
        sig = _sig(x["signer"], evaluation_report_statement(ev["id"], 1, x["id"], report["report_sm3"], ""))
        client.post(f"{url}/sign", json={"signature": sig}, headers=x["h"])
    return {"url": url, "id": ev["id"], "report": report["report"], "committee": committee, "staff": hs}


def evaluate_and_award(
    client: FlaskClient, session: Session, app: Flask, t: dict[str, Any], moment: Any
) -> dict[str, Any]:
    """…and, once the publicity is over, the award of the first candidate: what other modules'
    tests (guarantees, claims) build on."""
    return finish_award(client, t, evaluate_to_publicity(client, session, app, t), moment)


def finish_award(client: FlaskClient, t: dict[str, Any], got: dict[str, Any], moment: Any) -> dict[str, Any]:
    """The publicity of ``got`` runs out and the tenderee awards its first candidate."""
    moment.advance(days=3, seconds=1)
    ht = api_token(client, t["tenderee_username"])
    winner = got["report"]["candidates"][0]
    r = client.post(f"{got['url']}/award", json={"winner": winner["bidder_id"]}, headers=ht)
    assert r.status_code == 200, r.get_json()
    return got | {"winner": winner, "tenderee": ht}


def test_the_room_page_publishes_the_publicity(client: FlaskClient, session: Session, app: Flask) -> None:
    """The room script posts every action to ``/evaluations/<id>/act/<action>``; its last one, the
    candidates' publicity, belongs to awards and is served there, with the page's CSRF token."""
    from tests.factories import page_login
    from tests.trading.opening.test_ceremony import open_tender
    from tests.trading.test_draw import run_opening

    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        got = evaluate_to_report(client, session, app, t)
        page_login(client, t["staff_username"])
        html = client.get(f"/evaluations/{got['id']}").get_data(as_text=True)
        m = re.search(r'data-csrf="([^"]+)"', html)
        assert m, html
        act = f"/evaluations/{got['id']}/act/publicity"
        assert client.post(act, headers={"Accept": "application/json"}).status_code == 400  # no CSRF token
        r = client.post(act, headers={"Accept": "application/json", "X-CSRFToken": m.group(1)})
        assert r.status_code == 200, r.get_json()
        assert r.get_json()["state"] == "publicity" and r.get_json()["announcement"]
        assert client.get(f"/evaluations/{got['id']}/publicity").status_code == 200


def test_publicity_and_award_pages(client: FlaskClient, session: Session, app: Flask) -> None:
    """A bidder objects from the public page, the tenderee answers, awards and records the
    contract there; the public reads the result and the notice."""
    from tests.factories import csrf_from, page_login
    from tests.trading.opening.test_ceremony import open_tender
    from tests.trading.test_draw import run_opening

    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_publicity(client, session, app, t)
        page = f"/evaluations/{got['id']}/publicity"
        assert page in client.get(f"/tenders/{t['code']}").get_data(as_text=True)  # linked from the tender
        html = client.get(page).get_data(as_text=True)  # public, nobody logged in
        assert "中标候选人公示" in html and got["report"]["candidates"][0]["bidder"] in html and "提出异议" not in html
        loser = t["bidders"][2].user.username
        page_login(client, loser)
        html = client.get(page).get_data(as_text=True)
        assert 'id="object"' in html and 'id="award"' not in html
        token = csrf_from(html)
        r = client.post(f"{page}/object", data={"text": "短", "csrf_token": token}, follow_redirects=True)
        assert "未完成" in r.get_data(as_text=True)  # too short: nothing filed
        text = "第一名投标人的类似业绩证明材料不实"
        r = client.post(f"{page}/object", data={"text": text, "csrf_token": token}, follow_redirects=True)
        assert "异议已提交" in r.get_data(as_text=True) and "暂停中" in r.get_data(as_text=True)
        assert client.post(f"{page}/award", data={"winner": "1", "csrf_token": token}).status_code == 403
        page_login(client, t["tenderee_username"])
        html = client.get(page).get_data(as_text=True)
        oid = re.search(r"/publicity/answer/(\d+)", html)
        assert oid, html
        token = csrf_from(html)
        r = client.post(
            f"{page}/answer/{oid.group(1)}",
            data={"text": "经核查，业绩证明材料真实有效", "csrf_token": token},
            follow_redirects=True,
        )
        assert "已答复异议" in r.get_data(as_text=True)
        r = client.post(f"{page}/award", data={"winner": "x", "csrf_token": token}, follow_redirects=True)
        assert "请选择中标人" in r.get_data(as_text=True)
        r = client.post(f"{page}/award", data={"winner": "1", "csrf_token": token}, follow_redirects=True)
        assert "公示期至" in r.get_data(as_text=True)  # not over yet: refused with the rule
        moment.advance(days=3, seconds=1)
        page_login(client, t["tenderee_username"])
        html = client.get(page).get_data(as_text=True)
        token = csrf_from(html)
        first = got["report"]["candidates"][0]["bidder_id"]
        r = client.post(f"{page}/award", data={"winner": str(first), "csrf_token": token}, follow_redirects=True)
        assert "中标通知书已发出" in r.get_data(as_text=True) and 'id="notice"' in r.get_data(as_text=True)
        r = client.post(f"{page}/contract", data={"csrf_token": token}, follow_redirects=True)
        assert "合同签订登记时间" in r.get_data(as_text=True)
        client.get("/logout")
        html = client.get(page).get_data(as_text=True)
        assert "中标结果" in html and "（中标人）" in html


def test_clarifications_page_and_the_lowest_price_method(client: FlaskClient, session: Session, app: Flask) -> None:
    """A lot evaluated by the lowest evaluated price: no factors to score, the report ranks the
    compliant bids by price; a bidder answers the committee's clarification from its page."""
    from tests.factories import csrf_from, page_login

    lowest = {
        "evaluation_method": "lowest_price",
        "criteria": {"compliance": ["营业执照"], "factors": [], "price": {"formula": "lowest", "weight": 100}},
    }
    with clock.frozen(dt.datetime.now(dt.UTC) + dt.timedelta(days=60)) as moment:
        r = room_in_compliance(client, session, app, **lowest)
        url, committee, bids, t = r["url"], r["committee"], r["bids"], r["t"]
        lead = committee[0]["h"]
        q = {"bidder": bids[1], "question": "请说明报价中暂列金额的构成", "hours": 2}
        cid = client.post(f"{url}/clarify", json=q, headers=lead).get_json()["clarification"]
        rejected = {"passed": False, "failed_items": ["营业执照"], "reason": "营业执照已过期"}
        for x in committee:
            for b in bids:
                vote = rejected if b == bids[0] else {"passed": True}
                assert client.post(f"{url}/compliance", json={"bidder": b, **vote}, headers=x["h"]).status_code == 200
        state = client.post(f"{url}/advance", headers=lead).get_json()
        assert state["state"] == "scoring"
        body = {"bidder": bids[1], "scores": {}, "total": "0"}
        assert client.post(f"{url}/scores", json=body, headers=lead).get_json()["error"]["code"] == "no_factors"
        page_login(client, t["bidders"][1].user.username)
        html = client.get("/clarifications").get_data(as_text=True)
        assert "请说明报价中暂列金额的构成" in html
        token = csrf_from(html)
        r = client.post(
            f"/clarifications/{cid}/answer", data={"answer": "", "csrf_token": token}, follow_redirects=True
        )
        assert "未提交" in r.get_data(as_text=True)
        r = client.post(
            f"/clarifications/{cid}/answer",
            data={"answer": "暂列金额 20 万元", "csrf_token": token},
            follow_redirects=True,
        )
        assert "澄清答复已提交" in r.get_data(as_text=True)
        q2 = {"bidder": bids[1], "question": "请补充说明主要材料的品牌", "hours": 1}
        late = client.post(f"{url}/clarify", json=q2, headers=lead).get_json()["clarification"]
        moment.advance(hours=1, seconds=1)
        r = client.post(
            f"/clarifications/{late}/answer", data={"answer": "品牌见附件", "csrf_token": token}, follow_redirects=True
        )
        assert "已超过答复时限" in r.get_data(as_text=True)
        report = client.post(f"{url}/advance", headers=lead).get_json()
        assert report["state"] == "signing", report
        ranking = report["report"]["ranking"]
        assert [x["bidder_id"] for x in ranking] == [bids[1], bids[2]]  # the rejected bid is out; lowest first
        assert [x["price"] for x in ranking] == ["9001000.00", "9002000.00"] and ranking[0]["total"] is None
        answers = [c["answer"] for c in report["report"]["clarifications"]]
        assert answers == ["暂列金额 20 万元", None]  # the late one stays unanswered in the report


def test_an_objection_left_unanswered_is_reported_once(client: FlaskClient, session: Session, app: Flask) -> None:
    from tests.trading.opening.test_ceremony import open_tender
    from tests.trading.test_draw import run_opening
    from trading.awards.award import report_overdue
    from trading.tenders.models import Notification

    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_publicity(client, session, app, t)
        text = {"text": "第一名投标人的项目经理资格证书已过期"}
        r = client.post(f"{got['url']}/objections", json=text, headers=t["headers"][2])
        assert r.status_code == 201
        due = dt.datetime.fromisoformat(r.get_json()["answer_due"])
        # the day raised not counted, to 24:00 of the third day (moved past a rest day)
        assert (
            clock.local(due).time() == dt.time(0)
            and (clock.local(due).date() - clock.local(clock.now()).date()).days >= 4
        )
        moment.set(due - dt.timedelta(seconds=1))
        assert report_overdue(session, clock.now()) == 0  # not due yet
        moment.set(due + dt.timedelta(seconds=1))
        assert report_overdue(session, clock.now()) == 1
        session.commit()
        assert report_overdue(session, clock.now()) == 0  # once
        notes = session.scalars(select(Notification).where(Notification.message.contains("超过 3 日未答复"))).all()
        assert len(notes) == 1
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "evaluation.objection_overdue")).one()
        pub = client.get(f"{got['url']}/publicity").get_json()
        assert pub["suspended"] and not pub["ended"]  # still waiting for the answer


def test_watermarked_copies_stamp_every_pdf_page_and_keep_other_files() -> None:
    from pypdf import PdfReader

    from tests.factories import pdf_pages
    from trading.evaluation.watermark import watermark_zip

    src = io.BytesIO()
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("商务标/投标函.pdf", pdf_pages(3))
        z.writestr("报价.json", '{"price": "1.00"}')
        z.writestr("broken.pdf", b"%PDF-1.4 not really")
    out = io.BytesIO()
    text = "评标专用 专家 张三（7） 2026-12-20 10:00 编号 ab12cd34"
    assert watermark_zip(io.BytesIO(src.getvalue()), out, text) == 1
    z = zipfile.ZipFile(io.BytesIO(out.getvalue()))
    assert z.read("报价.json") == b'{"price": "1.00"}' and z.read("broken.pdf") == b"%PDF-1.4 not really"
    stamped = PdfReader(io.BytesIO(z.read("商务标/投标函.pdf")))
    assert len(stamped.pages) == 3
    for page in stamped.pages:
        fonts = page["/Resources"]["/Font"]
        assert any("STSong-Light" in str(f.get_object()["/BaseFont"]) for f in fonts.values())  # the stamp's font
        assert page.extract_text().count("page") == 1  # the page's own text is still there
    assert text in z.read("水印说明.txt").decode() and z.comment.decode() == text


def test_a_large_bid_is_copied_through_disk_not_memory(tmp_path: pathlib.Path) -> None:
    """A bid's files stream through (bids may be gigabytes): the copy's peak memory stays far below
    the bid's size, even read from a stream that cannot seek (an S3 body), and what did not compress
    in the bid is stored, not deflated again."""
    import tracemalloc

    from trading.evaluation.watermark import seekable, watermark_zip

    block, blocks = os.urandom(1 << 20), 32  # incompressible, like scans and drawings
    bid = tmp_path / "bid.zip"
    with zipfile.ZipFile(bid, "w", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("图纸/总平面图.dwg", "w", force_zip64=True) as w:
            for _ in range(blocks):
                w.write(block)
        z.writestr("技术标/施工组织设计.txt", "施工组织设计" * 20_000)

    class Body:  # what the S3 store's open() gives: read, no seek
        def __init__(self, f: Any) -> None:
            self.read = f.read

    tracemalloc.start()
    try:
        with bid.open("rb") as raw, seekable(Body(raw), tmp_path) as src, (tmp_path / "copy.zip").open("wb") as dst:
            watermark_zip(src, dst, "评标专用 编号 00000001")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20, f"peak {peak / 2**20:.1f} MiB for a {blocks} MiB bid"
    copy = zipfile.ZipFile(tmp_path / "copy.zip")
    drawing = copy.getinfo("图纸/总平面图.dwg")
    assert drawing.compress_type == zipfile.ZIP_STORED and drawing.file_size == blocks << 20
    assert copy.getinfo("技术标/施工组织设计.txt").compress_type == zipfile.ZIP_DEFLATED
    assert sm3_hex(copy.read("图纸/总平面图.dwg")) == sm3_hex(block * blocks)
    assert sorted(tmp_path.iterdir()) == sorted([bid, tmp_path / "copy.zip"])  # the spooled source is gone


def test_the_tenderee_seats_its_representative(client: FlaskClient, session: Session, app: Flask) -> None:
    """Law 37: a committee of five with four drawn experts seats one representative named by the
    tenderee, who signs in, pledges, votes and counts like the experts; one who recuses is replaced
    by the tenderee; in government procurement it may not lead (财库〔2012〕69号)."""
    from tests.factories import csrf_from, page_login
    from trading.tenders.models import Tender, TenderCategory

    t = opened_lot(client, session, app)  # committee_size 5, 4 of A01 drawn
    code, hs, ht = t["code"], t["staff"], t["tenderee"]
    org = t["tenderee_signer"].user.organisation
    colleague = make_user(session, Role.TENDEREE, org=org)  # no UKey registered
    deputy = make_signer(session, app, Role.TENDEREE, org=org)
    session.commit()
    reps = f"/api/v1/tenders/{code}/lots/1/representatives"
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)):
        assert client.get(reps, headers=ht).get_json()["error"]["code"] == "not_started"
        page_login(client, t["tenderee_username"])
        page = f"/tenders/{code}/lots/1/representatives"
        assert page in client.get(f"/tenders/{code}").get_data(as_text=True)  # linked for the tenderee
        assert 'id="not-open"' in client.get(page).get_data(as_text=True)
        committee, ev = _open_room(client, session, app, t, 4)
        url = f"/api/v1/evaluations/{ev['id']}"

        r = client.get(reps, headers=ht).get_json()
        assert r["required"] == 1 and r["named"] == []
        assert {u["username"] for u in r["eligible"]} == {t["tenderee_username"], deputy.user.username}
        # who names them, and whom: bad input changes nothing
        assert client.get(reps, headers=hs).status_code == 403  # staff do not
        assert client.post(reps, json={"username": t["tenderee_username"]}, headers=t["headers"][0]).status_code == 403
        events = session.scalar(select(func.count()).select_from(AuditEvent))
        for username, error in (
            (colleague.username, "签名证书"),
            (t["bidders"][0].user.username, "招标人单位"),
            ("nobody", "不存在"),
        ):
            r = client.post(reps, json={"username": username}, headers=ht)
            assert r.status_code == 422 and error in r.get_json()["error"]["message"], r.get_json()
        assert client.post(reps, json={}, headers=ht).status_code == 422
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == events

        codes = sorted(b.user.organisation.credit_code for b in t["bidders"])  # type: ignore[union-attr]
        for x in committee:
            _enter(client, ev, x, code, codes)
            client.post(f"{url}/leader", json={"candidate": committee[0]["id"]}, headers=x["h"])
        r = client.post(f"{url}/advance", headers=hs).get_json()
        assert r["error"]["code"] == "committee_incomplete" and "招标人代表 1 名" in r["error"]["message"]

        # named; it recuses; the tenderee names another (never the same person twice)
        r = client.post(reps, json={"username": t["tenderee_username"]}, headers=ht)
        assert r.status_code == 201, r.get_json()
        first = {"signer": t["tenderee_signer"], "id": r.get_json()["named"][0]["expert"], "h": ht}
        again = client.post(reps, json={"username": deputy.user.username}, headers=ht).get_json()
        assert again["error"]["code"] == "representatives_complete"
        state = client.get(url, headers=ht).get_json()
        assert state["me"] == first["id"] and state["committee"]["size"] == 5
        assert [s["name"] for s in state["seats"] if s["representative"]] == ["测试用户"]
        client.post(
            f"{url}/signin",
            json={"signature": _sig(first["signer"], evaluation_signin_statement(ev["id"], code, 1, first["id"]))},
            headers=ht,
        )
        assert (
            client.post(f"{url}/recuse", json={"reason": "本人近亲属在第一投标人任职"}, headers=ht).status_code == 200
        )
        again = client.post(reps, json={"username": t["tenderee_username"]}, headers=ht).get_json()
        assert again["error"]["code"] == "already_seated"
        hd = api_token(client, deputy.user.username)
        assert client.get(url, headers=hd).status_code == 403  # not named yet: nothing of the room
        html = client.get(page).get_data(as_text=True)
        assert "已回避" in html and 'id="designate-form"' in html
        form = {"csrf_token": csrf_from(html), "username": deputy.user.username}
        assert "已指定招标人代表" in client.post(page, data=form, follow_redirects=True).get_data(as_text=True)
        rep = {"signer": deputy, "id": client.get(url, headers=hd).get_json()["me"], "h": hd}
        _enter(client, ev, rep, code, codes)

        # government procurement: the purchaser's representative may not lead
        tender = session.scalar(select(Tender).where(Tender.code == code))
        assert tender is not None
        tender.category = TenderCategory.GOODS
        session.commit()
        r = client.post(f"{url}/leader", json={"candidate": rep["id"]}, headers=hd)
        assert r.status_code == 422 and "财库〔2012〕69号" in r.get_json()["error"]["message"]
        assert client.get(url, headers=hd).get_json()["committee"]["leader_from_experts"] is True
        assert client.post(f"{url}/leader", json={"candidate": committee[0]["id"]}, headers=hd).status_code == 200
        assert client.post(f"{url}/advance", headers=hs).get_json()["state"] == "compliance"
        # and reads the bids like the experts
        bid = client.get(url, headers=hd).get_json()["bidders"][0]["id"]
        assert client.get(f"{url}/bids/{bid}/copy", headers=hd, buffered=True).status_code == 200
    page_login(client, t["bidders"][0].user.username)
    assert client.get(page).status_code == 403


def test_candidates_not_publicised_within_three_days_are_reported_once(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """Reg 54: the candidates are publicised within 3 days of the report. The room shows the date;
    past it the scheduler reports the delay once (audit event, notice to the tenderee); a late
    publicity is still published, and recorded as late; a report sent back has no date."""
    from tests.trading.opening.test_ceremony import open_tender
    from tests.trading.test_draw import run_opening
    from trading.awards.award import report_late_publicity
    from trading.tenders.models import Notification

    t = open_tender(client, session, app, 3)
    run_opening(client, app, t)
    with clock.frozen(t["deadline"] + dt.timedelta(hours=4)) as moment:
        got = evaluate_to_report(client, session, app, t)
        reported = clock.now()
        state = client.get(got["url"], headers=got["staff"]).get_json()
        assert state["state"] == "reported"
        assert dt.datetime.fromisoformat(state["publicity_due_at"]) == reported + dt.timedelta(days=3)
        moment.advance(days=3)
        assert report_late_publicity(session, clock.now()) == 0  # due, not yet late
        moment.advance(seconds=1)
        assert report_late_publicity(session, clock.now()) == 1
        assert report_late_publicity(session, clock.now()) == 0  # once
        session.commit()
        notes = session.scalars(select(Notification).where(Notification.message.contains("尚未公示"))).all()
        assert [n.org_id for n in notes] == [t["tenderee_signer"].user.organisation_id]
        assert session.scalars(select(AuditEvent).where(AuditEvent.action == "evaluation.publicity_overdue")).one()
        # sent back: the report is void, and so is its date; the new report gets a new one
        url, hs, lead = got["url"], got["staff"], got["committee"][0]["h"]
        back = client.post(f"{url}/send-back", json={"reason": "价格分计算有误", "to": "scoring"}, headers=hs)
        assert back.status_code == 200, back.get_json()
        assert client.get(url, headers=hs).get_json()["publicity_due_at"] is None
        assert report_late_publicity(session, clock.now() + dt.timedelta(days=30)) == 0
        report = client.post(f"{url}/advance", headers=lead).get_json()  # the carried-over sheets
        for x in got["committee"]:
            statement = evaluation_report_statement(got["id"], 2, x["id"], report["report_sm3"], "")
            client.post(f"{url}/sign", json={"signature": _sig(x["signer"], statement)}, headers=x["h"])
        assert client.get(url, headers=hs).get_json()["state"] == "reported"
        moment.advance(days=4)  # published late: allowed, and recorded as late
        assert client.post(f"{url}/publicity", headers=hs).status_code == 200
        stage = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "evaluation.stage").order_by(AuditEvent.seq.desc())
        ).first()
        assert stage is not None and json.loads(stage.payload)["late"] is True
