"""The rooms as people read them: a button the server would refuse is disabled with the refusal the
operation itself raises (one rule in one place), advancing asks for a confirmation naming what it
does, every code comes with its words (``*_label``), the record is dated when it was made, and the
public 开标大厅 lists the rooms by what is happening today without a word about the bids."""

from __future__ import annotations

import datetime as dt
import html as htmllib
import json
import re

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from archive import clock
from tests.factories import page_login
from tests.trading.opening.test_ceremony import open_tender, release, signin_sig
from tests.trading.opening.test_joint import joint_tender
from trading.core.services import services
from trading.opening.decryption import run_pending


def _why(html: str, name: str) -> str:
    m = re.search(rf'<span class="why" id="why-{name}"[^>]*>([^<]*)</span>', html)
    assert m, f"no reason beside {name}"
    return htmllib.unescape(m.group(1))


def test_buttons_are_disabled_with_the_refusal_the_operation_raises(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    cid, code = t["cid"], t["code"]
    room = f"/api/v1/ceremonies/{cid}"
    host, bidder = app.test_client(), app.test_client()
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):  # logged in then: sessions expire
        page_login(host, t["staff_username"])
        page_login(bidder, t["bidders"][0].user.username)
        st = host.get(f"/ceremonies/{cid}/state").get_json()
        assert st["stage"] == "sign_in" and st["controls"]["advance"] == "尚有投标人未签到，签到时间未到不能提前结束"
        page = host.get(f"/ceremonies/{cid}").get_data(as_text=True)
        assert '<button id="advance" disabled>' in page and _why(page, "advance") == st["controls"]["advance"]
        refused = client.post(f"{room}/advance", headers=t["staff"])  # what the button would meet
        assert refused.status_code == 409 and refused.get_json()["error"]["message"] == st["controls"]["advance"]
        assert "<script nonce" not in page  # the room's scripts are files (CSP), its data in data- attributes

        # a bidder's actions, the same way: decryption is refused until its window
        me = bidder.get(f"/ceremonies/{cid}/state").get_json()["me"]
        assert me["actions"]["signin"] is None and me["actions"]["decrypt"] == "当前为签到阶段，不在解密时间内"
        mine = bidder.get(f"/ceremonies/{cid}").get_data(as_text=True)
        assert '<button type="button" id="do-decrypt" disabled>' in mine
        assert _why(mine, "do-decrypt") == me["actions"]["decrypt"]
        r = release(client, t, 0)
        assert r.status_code == 409 and r.get_json()["error"]["message"] == me["actions"]["decrypt"]
        assert bidder.get(room).get_json().get("controls") is None  # no host controls for a bidder

        for i, b in enumerate(t["bidders"]):
            r = client.post(f"{room}/signin", json={"signature": signin_sig(b, cid, code)}, headers=t["headers"][i])
            assert r.status_code == 200
        st = host.get(f"/ceremonies/{cid}/state").get_json()
        assert st["controls"]["advance"] is None and "公布投标人名单" in st["advance_confirm"]
        page = host.get(f"/ceremonies/{cid}").get_data(as_text=True)
        assert '<button id="advance">' in page and "不能撤回" in page  # enabled, behind a confirmation
        assert bidder.get(f"/ceremonies/{cid}/state").get_json()["me"]["actions"]["signin"] == "贵单位已签到"
        assert client.post(f"{room}/advance", headers=t["staff"]).status_code == 200


def test_codes_come_with_their_words(client: FlaskClient, session: Session, app: Flask) -> None:
    """The room's events and the bidder's own attempt carry the words for their codes; no page
    shows the codes themselves (queued, decrypted, duration_days)."""
    t = open_tender(client, session, app, 3)
    cid, code = t["cid"], t["code"]
    room = f"/api/v1/ceremonies/{cid}"
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        for i, b in enumerate(t["bidders"]):
            client.post(f"{room}/signin", json={"signature": signin_sig(b, cid, code)}, headers=t["headers"][i])
        client.post(f"{room}/advance", headers=t["staff"])
        client.post(f"{room}/advance", headers=t["staff"])
        assert release(client, t, 0).status_code == 202
        assert release(client, t, 1, key=b"\x00" * 16).status_code == 202
        queued = client.get(f"{room}/events?once=1").get_json()["items"]
        assert {e["kind_label"] for e in queued} >= {"阶段", "签到", "解密"}
        assert [e["state_label"] for e in queued if e["kind"] == "decryption"] == ["密钥已提交，等待解密"] * 2
        assert run_pending(app.extensions["ggzy.db"], services(app)) == 2
        events = client.get(f"{room}/events?once=1").get_json()["items"]
        done = [(e["state_label"], e["code_label"]) for e in events if e["kind"] == "decryption"][2:]
        assert sorted(done) == [("解密失败", "提交的密钥不能解密投标文件"), ("解密成功", "")]
        attempt = client.get(room, headers=t["headers"][1]).get_json()["me"]["last_attempt"]
        assert attempt["code"] == "wrong_key" and attempt["code_label"] == "提交的密钥不能解密投标文件"
        assert attempt["fault_label"] == "投标人原因" and attempt["state_label"] == "解密失败"
        for i in (1, 2):
            assert release(client, t, i).status_code == 202
        run_pending(app.extensions["ggzy.db"], services(app))
        client.post(f"{room}/advance", headers=t["staff"])
        page = client.get(f"/ceremonies/{cid}").get_data(as_text=True)
        text = re.sub(r"<[^>]+>", " ", page.split("<main>")[1])
        for code_word in ("queued", "decrypted", "duration_days", "pending", "revoked"):
            assert code_word not in text, code_word
        assert "9,001,000.00" in text and "工期（日历天）：300" in text and "解密成功" in text
        before = clock.now()
        st = client.post(f"{room}/advance", headers=t["staff"]).get_json()
        record = json.loads(client.get(f"{room}/record.json").data)
        made = dt.datetime.fromisoformat(record["generated_at"])
        assert before <= made <= clock.now()  # an instant that has happened, never a later one
        assert record["price_fields"][0]["label"] == "工期（日历天）" and st["record_sm3"]


def test_joint_room_names_every_lot_that_refuses(client: FlaskClient, session: Session, app: Flask) -> None:
    t = joint_tender(client, session, app)
    host = app.test_client()
    with clock.frozen(t["deadline"] + dt.timedelta(seconds=1)):
        page_login(host, t["staff_username"])
        st = host.get(f"/tenders/{t['code']}/opening/state").get_json()
        why = st["controls"]["advance"]
        assert "第1标段" in why and "第2标段" in why and "未签到" in why
        page = host.get(f"/tenders/{t['code']}/opening").get_data(as_text=True)
        assert '<button id="advance" disabled>' in page and _why(page, "advance") == why
        r = client.post(f"/api/v1/tenders/{t['code']}/opening/advance", headers=t["staff"])
        assert r.status_code == 409 and r.get_json()["error"]["message"] == why
    with clock.frozen(t["deadline"] + dt.timedelta(minutes=31)):
        page_login(host, t["staff_username"])
        st = host.get(f"/tenders/{t['code']}/opening/state").get_json()
        assert st["controls"]["advance"] is None and st["advance_confirm"].startswith("全部 2 个标段")


def test_the_hall_lists_rooms_by_day_and_says_nothing_of_the_bids(
    client: FlaskClient, session: Session, app: Flask
) -> None:
    t = open_tender(client, session, app, 3)
    cid = t["cid"]
    deadline = t["deadline"]
    with clock.frozen(deadline - dt.timedelta(days=2)):
        page = client.get("/ceremonies").get_data(as_text=True)
        upcoming = page.split('id="upcoming"')[1].split('id="ended"')[0]
        assert f"/ceremonies/{cid}" in upcoming and "待开标" in upcoming
        assert f"开标时间 {clock.local(deadline):%Y-%m-%d %H:%M}" in upcoming  # Beijing time
        assert "3 家" not in page and "投标人名单" not in page  # who bid, and how many, is secret
    with clock.frozen(deadline + dt.timedelta(seconds=1)):
        client.get(f"/api/v1/ceremonies/{cid}")  # the room opens when anyone looks (or the sweep runs)
        page = client.get("/ceremonies").get_data(as_text=True)
        today = page.split('id="today"')[1].split('id="running"')[0]
        assert f"/ceremonies/{cid}" in today and "签到" in today and "本阶段截止" in today
    later = deadline + dt.timedelta(days=3)
    for _ in range(8):  # each look closes one window that ran out (the next starts then)
        with clock.frozen(later):
            if client.get(f"/api/v1/ceremonies/{cid}").get_json()["stage"] == "closed":
                break
        later += dt.timedelta(hours=1)
    with clock.frozen(later):
        page = client.get("/ceremonies").get_data(as_text=True)
        ended = page.split('id="ended"')[1]
        assert f"/ceremonies/{cid}" in ended and "结束于" in ended
    with clock.frozen(deadline + dt.timedelta(days=60)):
        assert f"/ceremonies/{cid}" not in client.get("/ceremonies").get_data(as_text=True)  # only the recent
