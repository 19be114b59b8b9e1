"""多标段合并开标: three lots opened together in one room, on SQLite and PostgreSQL. The lot with
two bids fails on its own; the other two move together, all or none, and a lot still decrypting
holds the other's price reading so that both tables are published at one instant."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent
from signing.envelope import DEFAULT_CHUNK
from tests.factories import (
    api_token,
    csrf_from,
    make_bidder_with_keys,
    make_signer,
    make_user,
    page_login,
    seal_bid,
    tender_body,
    upload,
    upload_bid,
)
from tests.trading.opening.test_ceremony import bid_package, open_tender, release_to, signin_sig
from trading.accounts.models import Role
from trading.core.services import services
from trading.opening.decryption import run_pending
from trading.opening.models import Ceremony
from trading.opening.tasks import open_ceremonies_job

# lot → the bidders (by index) that bid in it; bidder 0 bids in two lots, lot 3 has too few bids
BIDS = {1: [0, 1, 2], 2: [0, 1, 3], 3: [2, 3]}


def joint_tender(client: FlaskClient, session: Session, app: Flask) -> dict[str, Any]:
    tenderee = make_signer(session, app, Role.TENDEREE)
    staff = make_user(session, Role.STAFF)
    bidders = [make_bidder_with_keys(session, app) for _ in range(4)]
    session.commit()
    ht = api_token(client, tenderee.user.username)
    lots = [{**tender_body()["lots"][0], "name": f"第{n}标段：施工"} for n in (1, 2, 3)]
    r = client.post("/api/v1/tenders", json=tender_body(lots=lots, joint_opening=True), headers=ht)
    assert r.status_code == 201, r.get_json()
    code = r.get_json()["code"]
    upload(client, ht, tenderee, code, "招标文件.pdf", b"%PDF docs")
    client.post(f"/api/v1/tenders/{code}/submit", headers=ht)
    hs = api_token(client, staff.username)
    assert client.post(f"/api/v1/tenders/{code}/publish", headers=hs).status_code == 200
    headers = [api_token(client, b.user.username) for b in bidders]
    blobs: dict[tuple[int, int], bytes] = {}
    for h in headers:
        client.post(f"/api/v1/tenders/{code}/interest", headers=h)
    for lot, who in BIDS.items():
        for i in who:
            price = f"{lot * 1_000_000 + i * 1000}.00"
            blob = seal_bid(bidders[i], code, bid_package(code, price, lot=lot), lot=lot, chunk_size=DEFAULT_CHUNK)
            assert upload_bid(client, headers[i], blob, code, lot=lot).status_code == 201
            blobs[(lot, i)] = blob
    tender = client.get(f"/api/v1/tenders/{code}").get_json()
    assert tender["joint_opening"] is True
    rooms = {c["lot"]: c["id"] for c in client.get(f"/api/v1/tenders/{code}/ceremonies").get_json()["items"]}
    return {
        "code": code,
        "rooms": rooms,
        "bidders": bidders,
        "headers": headers,
        "blobs": blobs,
        "staff": hs,
        "staff_username": staff.username,
        "deadline": dt.datetime.fromisoformat(tender["bid_deadline"]),
    }


def _signin(client: FlaskClient, t: dict[str, Any], lot: int, i: int) -> Any:
    cid = t["rooms"][lot]
    body = {"signature": signin_sig(t["bidders"][i], cid, t["code"], lot)}
    return client.post(f"/api/v1/ceremonies/{cid}/signin", json=body, headers=t["headers"][i])


def _release(client: FlaskClient, t: dict[str, Any], lot: int, i: int) -> Any:
    return release_to(client, t["rooms"][lot], t["bidders"][i], t["blobs"][(lot, i)], t["headers"][i])


SIGNING_IN = ((1, [0, 1, 2]), (2, [0, 1, 3]))  # every seat of the two lots that open


def _all_signed_in(client: FlaskClient, t: dict[str, Any]) -> None:
    for lot, who in SIGNING_IN:
        for i in who:
            assert _signin(client, t, lot, i).status_code == 200


def test_lots_opened_together(client: FlaskClient, session: Session, app: Flask) -> None:
    """The one path over the API: both lots move together from the joint room, a lot still
    decrypting holds the other's reading, both tables at one instant, the host's page control.
    The refusals have their own tests below."""
    t = joint_tender(client, session, app)
    code, H, staff = t["code"], t["headers"], t["staff"]
    joint = f"/api/v1/tenders/{code}/opening"
    assert client.get(joint).get_json()["label"] == "待开标"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        st = client.get(joint).get_json()
        stages = {lot["lot"]: lot["stage"] for lot in st["lots"]}
        assert stages == {1: "sign_in", 2: "sign_in", 3: "failed"} and st["stage"] == "sign_in"  # lot 3: 流标
        _all_signed_in(client, t)
        st = client.post(f"{joint}/advance", headers=staff).get_json()
        assert [lot["stage"] for lot in st["lots"]] == ["bidders", "bidders", "failed"]
        st = client.post(f"{joint}/advance", headers=staff).get_json()
        assert st["stage"] == "decrypting"
        ends = dt.datetime.fromisoformat(st["ends_at"])
        # every key of lot 1 is released and decrypted; lot 2's last decryption is still queued
        for lot, i in ((1, 0), (1, 1), (1, 2), (2, 0), (2, 1)):
            assert _release(client, t, lot, i).status_code == 202
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 5
        assert _release(client, t, 2, 3).status_code == 202
    with clock.frozen(ends + dt.timedelta(seconds=1)):
        st = client.get(joint).get_json()
        assert [lot["stage"] for lot in st["lots"][:2]] == ["decrypting", "decrypting"]  # lot 2 holds lot 1
        assert all("table" not in lot for lot in st["lots"])  # no price anywhere yet
    with clock.frozen(ends + dt.timedelta(seconds=30)):
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 1
        st = client.get(joint).get_json()
        lot1, lot2 = st["lots"][0], st["lots"][1]
        assert lot1["stage"] == lot2["stage"] == "reading" and lot1["started_at"] == lot2["started_at"]
        assert sorted(r["price"] for r in lot1["table"]) == ["1000000.00", "1001000.00", "1002000.00"]
        assert sorted(r["price"] for r in lot2["table"]) == ["2000000.00", "2001000.00", "2003000.00"]
        items = client.get(f"{joint}/events?once=1", headers=H[1]).get_json()["items"]  # bidder 1: lots 1 and 2
        assert {e["ceremony"] for e in items} == {t["rooms"][1], t["rooms"][2], t["rooms"][3]}
        # the room page, and the host's controls on it (CSRF-protected forms)
        page = app.test_client()
        html = page.get(f"/tenders/{code}/opening").get_data(as_text=True)
        assert "合并开标室" in html and "全部标段进入下一阶段" not in html  # the public sees no controls
        page_login(page, t["staff_username"])
        html = page.get(f"/tenders/{code}/opening").get_data(as_text=True)
        r = page.post(f"/tenders/{code}/opening/control/advance", data={"csrf_token": csrf_from(html)})
        assert r.status_code == 302
        assert [lot["stage"] for lot in client.get(joint).get_json()["lots"]] == ["confirming", "confirming", "failed"]
        r = page.post(f"/tenders/{code}/opening/control/advance", data={})
        assert r.status_code == 400  # no CSRF token


def test_the_lots_move_from_the_joint_room_all_or_none(client: FlaskClient, session: Session, app: Flask) -> None:
    t = joint_tender(client, session, app)
    rooms, H, staff = t["rooms"], t["headers"], t["staff"]
    joint = f"/api/v1/tenders/{t['code']}/opening"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        r = client.post(f"/api/v1/ceremonies/{rooms[1]}/advance", headers=staff)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "joint_opening"
        assert client.post(f"{joint}/advance", headers=H[0]).status_code == 403  # a bidder is no host
        assert client.post(f"{joint}/launch", headers=staff).status_code == 404
        for lot, who in ((1, [0, 1, 2]), (2, [0, 1])):
            for i in who:
                assert _signin(client, t, lot, i).status_code == 200
        # all or none: lot 2 still waits for bidder 3, so lot 1 does not move either
        r = client.post(f"{joint}/advance", headers=staff)
        assert r.status_code == 409 and "第2标段" in r.get_json()["error"]["message"]
        assert "第1标段" not in r.get_json()["error"]["message"]
        assert {lot["stage"] for lot in client.get(joint).get_json()["lots"][:2]} == {"sign_in"}
        assert _signin(client, t, 2, 3).status_code == 200


def test_pause_resume_and_extend_act_on_both_lots(client: FlaskClient, session: Session, app: Flask) -> None:
    t = joint_tender(client, session, app)
    staff = t["staff"]
    joint = f"/api/v1/tenders/{t['code']}/opening"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        _all_signed_in(client, t)
        client.post(f"{joint}/advance", headers=staff)
        # bad input changes nothing
        assert client.post(f"{joint}/pause", json={"reason": "网"}, headers=staff).status_code == 422
        assert (
            client.post(f"{joint}/extend", json={"minutes": 0, "reason": "投标人申请"}, headers=staff).status_code
            == 422
        )
        assert client.post(f"{joint}/extend", json={"minutes": "十"}, headers=staff).status_code == 422
        st = client.post(f"{joint}/pause", json={"reason": "网络故障排查"}, headers=staff).get_json()
        assert st["paused"] and all(lot["paused"] for lot in st["lots"][:2])
        r = client.post(f"{joint}/advance", headers=staff)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "paused"
        st = client.post(f"{joint}/resume", headers=staff).get_json()
        assert not st["paused"]
        before = [lot["ends_at"] for lot in st["lots"][:2]]
        st = client.post(f"{joint}/extend", json={"minutes": 5, "reason": "投标人申请延长"}, headers=staff).get_json()
        after = [lot["ends_at"] for lot in st["lots"][:2]]
        assert after[0] == after[1] and all(
            dt.datetime.fromisoformat(a) - dt.datetime.fromisoformat(b) == dt.timedelta(minutes=5)
            for a, b in zip(after, before, strict=True)
        )
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("opening.joint_%"))).all()
        assert sorted(set(actions)) == [
            "opening.joint_advance",
            "opening.joint_extend",
            "opening.joint_pause",
            "opening.joint_resume",
        ]


def test_one_stream_for_the_joint_room_within_each_viewers_scope(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    """Each lot's events, within each viewer's scope, resumable by a cursor of one id per room."""
    t = joint_tender(client, session, app)
    rooms, H = t["rooms"], t["headers"]
    joint = f"/api/v1/tenders/{t['code']}/opening"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        _all_signed_in(client, t)
        host_chat = {"text": "第一标段各位投标人请注意"}
        r = client.post(f"/api/v1/ceremonies/{rooms[1]}/messages", json=host_chat, headers=t["staff"])
        assert r.status_code == 201
        items = client.get(f"{joint}/events?once=1", headers=H[1]).get_json()["items"]  # bidder 1: lots 1 and 2
        assert {e["ceremony"] for e in items} == {rooms[1], rooms[2], rooms[3]}
        assert any(e.get("text") == host_chat["text"] for e in items)
        items3 = client.get(f"{joint}/events?once=1", headers=H[3]).get_json()["items"]  # bidder 3: not in lot 1
        assert not any(e.get("text") == host_chat["text"] for e in items3)
        last = {e["ceremony"]: e["id"] for e in items}
        cursor = ",".join(f"{c}:{n}" for c, n in last.items())
        assert client.get(f"{joint}/events?once=1", headers={**H[1], "Last-Event-ID": cursor}).get_json()["items"] == []
        older = {**last, rooms[2]: 0}
        again = client.get(
            f"{joint}/events?once=1", headers={**H[1], "Last-Event-ID": ",".join(f"{c}:{n}" for c, n in older.items())}
        ).get_json()["items"]
        assert again and {e["ceremony"] for e in again} == {rooms[2]}
        bad = client.get(f"{joint}/events?once=1", headers={"Last-Event-ID": "12:x"})
        assert bad.status_code == 422


def test_a_tender_opened_lot_by_lot_has_no_joint_room(client: FlaskClient, session: Session, app: Flask) -> None:
    t = open_tender(client, session, app, 3)
    r = client.get(f"/api/v1/tenders/{t['code']}/opening")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_joint"
    assert client.post(f"/api/v1/tenders/{t['code']}/opening/advance", headers=t["staff"]).status_code == 404


async def _frames(resp: Any, n: int, timeout: float = 10) -> list[tuple[str, dict[str, Any]]]:
    """The next ``n`` events as (SSE id, body), heartbeats skipped."""
    import asyncio
    import json

    out: list[tuple[str, dict[str, Any]]] = []
    sse_id = ""
    while len(out) < n:
        line = (await asyncio.wait_for(resp.content.readline(), timeout)).decode().strip()
        if line.startswith("id: "):
            sse_id = line[4:]
        elif line.startswith("data: ") and "server_time" not in line:
            out.append((sse_id, json.loads(line[6:])))
    return out


@pytest.mark.integration
def test_live_server_streams_the_joint_room(settings_for: Any) -> None:
    """``ggzy live`` on a PostgreSQL database of its own: one stream for both open lots, each lot's
    events within the viewer's scope there, SSE ids that are cursors, and a resume from one."""
    from aiohttp.test_utils import TestClient, TestServer

    from tests.conftest import committing_pg_app, run_in_own_loop
    from trading.opening import ceremonies
    from trading.opening.live import make_app, make_ticket
    from trading.opening.models import Audience

    with committing_pg_app(settings_for, "ggzy_joint_live") as app:
        database = app.extensions["ggzy.db"]
        client = app.test_client()
        with database.session() as session:
            t = joint_tender(client, session, app)
            rooms = t["rooms"]
            with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
                client.get(f"/api/v1/tenders/{t['code']}/opening")
            seat = ceremonies.my_seat(session, ceremonies.get_ceremony(session, rooms[2]), t["bidders"][3].user)
            assert seat is not None
            org3 = seat.org_id
        secret = app.extensions["ggzy.settings"].secret_key
        # bidder 3 has a seat in lot 2 only; lot 3 failed at the deadline
        ticket = make_ticket(secret, {rooms[1]: (False, None), rooms[2]: (False, org3)})

        def add(room: int, text: str, audience: Audience) -> None:
            with database.session() as s, s.begin():
                ceremonies.add_event(
                    s, ceremonies.get_ceremony(s, room), "chat", {"from": "主持人", "text": text}, audience
                )

        async def scenario() -> None:
            import asyncio

            async with TestClient(TestServer(make_app(database, secret, interval=0.05))) as http:
                assert (await http.get("/live/rooms?ticket=forged")).status == 403
                single = await http.get(f"/live/ceremonies/{rooms[1]}?ticket={ticket}")
                assert single.status == 403  # a joint ticket is not one room's
                resp = await http.get(f"/live/rooms?ticket={ticket}")
                opened = await _frames(resp, 2)  # each lot's opening (public)
                assert {body["ceremony"] for _, body in opened} == {rooms[1], rooms[2]}
                await asyncio.to_thread(add, rooms[1], "第一标段房间消息", Audience.ROOM)
                await asyncio.to_thread(add, rooms[2], "第二标段房间消息", Audience.ROOM)
                sse_id, body = (await _frames(resp, 1))[0]
                assert body["text"] == "第二标段房间消息"  # lot 1's room message is not for bidder 3
                assert sse_id == f"{rooms[1]}:{opened_id(opened, rooms[1])},{rooms[2]}:{body['id']}"
                # resume from a cursor that has seen lot 2's opening only: lot 1's opening comes again
                resumed = await http.get(
                    f"/live/rooms?ticket={ticket}",
                    headers={"Last-Event-ID": f"{rooms[2]}:{opened_id(opened, rooms[2])}"},
                )
                again = [b for _, b in await _frames(resumed, 2)]
                assert [b["ceremony"] for b in again] == [rooms[1], rooms[2]]
                assert again[1]["text"] == "第二标段房间消息"

        run_in_own_loop(scenario)


def opened_id(frames: list[tuple[str, dict[str, Any]]], room: int) -> int:
    return next(int(body["id"]) for _, body in frames if body["ceremony"] == room)


def _joint_failures(session: Session) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.scalars(
        select(AuditEvent.payload).where(AuditEvent.action == "ceremony.advance_failed").order_by(AuditEvent.seq)
    )
    return [json.loads(p) for p in rows]


def test_a_failing_lot_moves_no_lot_of_a_joint_opening(client: FlaskClient, session: Session, app: Flask) -> None:
    """Before, the sweep moved lot 1 on (and published its step) while lot 2 stayed behind, and
    staff's joint advance rolled its failure back: no audit event, no notice, a raw Python error."""
    t = joint_tender(client, session, app)
    code, rooms, staff = t["code"], t["rooms"], t["staff"]
    joint = f"/api/v1/tenders/{code}/opening"
    svc = services(app)
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)) as moment:
        assert open_ceremonies_job(session, clock.now(), svc) == 3  # lots 1 and 2 open, lot 3 fails
        for lot, who in ((1, [0, 1, 2]), (2, [0, 1, 3])):
            for i in who:
                assert _signin(client, t, lot, i).status_code == 200
        broken = session.get(Ceremony, rooms[2])
        assert broken is not None
        good_windows = dict(broken.windows)
        broken.windows = {**good_windows, "bidders": "五分钟"}  # lot 2's next step raises TypeError
        session.commit()
        ends = dt.datetime.fromisoformat(client.get(joint, headers=staff).get_json()["ends_at"])
        moment.advance(seconds=(ends - clock.now()).total_seconds() + 1)

        # the sweep moves neither lot, and records lot 2's failure for the group
        assert open_ceremonies_job(session, clock.now(), svc) == 0
        st = client.get(joint, headers=staff).get_json()
        assert [lot["stage"] for lot in st["lots"]] == ["sign_in", "sign_in", "failed"]
        assert all("bidders" not in (lot.get("table") or []) for lot in st["lots"])
        (first,) = _joint_failures(session)
        assert first["lot"] == 2 and first["error"] == "TypeError" and first["joint_lots"] == [1, 2]
        (seen,) = st["advance_failures"]
        assert seen["lot"] == 2 and seen["failures"] == 1 and seen["error"] == "TypeError"
        assert client.get(joint).get_json()["advance_failures"] == []  # the public sees none

        # the joint room's page shows it to staff, naming the lot, in Chinese
        page = app.test_client()
        page_login(page, t["staff_username"])
        html = page.get(f"/tenders/{code}/opening").get_data(as_text=True)
        assert "开标室第 2 标段未能进入下一阶段" in html and "TypeError" in html
        assert "unsupported type" not in html

        # staff's joint advance (API): named, recorded, and no lot moves
        r = client.post(f"{joint}/advance", headers=staff)
        err = r.get_json()["error"]
        assert r.status_code == 409 and err["code"] == "advance_failed"
        assert "第 2 标段" in err["message"] and "审计事件 #" in err["message"]
        assert "unsupported type" not in err["message"] and err["detail"]["error"] == "TypeError"
        failures = _joint_failures(session)
        assert len(failures) == 2 and failures[-1]["lot"] == 2
        assert f"#{err['detail']['seq']}" in err["message"]
        # ... and from the page's form: committed, shown, no lot moved
        html = page.get(f"/tenders/{code}/opening").get_data(as_text=True)
        r = page.post(
            f"/tenders/{code}/opening/control/advance", data={"csrf_token": csrf_from(html)}, follow_redirects=True
        )
        html = r.get_data(as_text=True)
        assert "开标室第 2 标段未能进入下一阶段（系统内部错误，已记录为审计事件 #" in html
        assert len(_joint_failures(session)) == 3
        st = client.get(joint, headers=staff).get_json()
        assert [lot["stage"] for lot in st["lots"]] == ["sign_in", "sign_in", "failed"]
        advanced = session.scalars(select(AuditEvent.seq).where(AuditEvent.action == "opening.joint_advance")).all()
        assert advanced == []

        # once the row is repaired, one sweep moves both lots together
        broken = session.get(Ceremony, rooms[2])
        assert broken is not None
        broken.windows = good_windows
        session.commit()
        moment.advance(minutes=5)  # past the pause after the third failure
        assert open_ceremonies_job(session, clock.now(), svc) == 2
        st = client.get(joint, headers=staff).get_json()
        lot1, lot2 = st["lots"][0], st["lots"][1]
        assert lot1["stage"] == lot2["stage"] == "bidders" and lot1["started_at"] == lot2["started_at"]
        assert st["advance_failures"] == []
