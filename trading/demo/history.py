"""The demo's tenders played in the past: one opened and evaluated to its award, one opened
jointly and left in its decryption."""

from __future__ import annotations

import base64
import datetime as dt
import pathlib

from flask import Flask

from archive import clock
from archive.clock import FrozenClock
from bidding import ceremony_client
from infra.reference_issuer.decisions import ReferenceIssuer
from signing.sm2 import PrivateKey
from trading.core.services import services
from trading.demo import display_name, org_credit_code
from trading.demo.actors import DEMO_PROCEDURE, Actor, make_keys, tender_body, upload_document
from trading.demo.bidders import encryption_cert, seal_and_upload
from trading.opening.decryption import run_pending


def opened_tender(
    app: Flask,
    tenderee: Actor,
    staff: Actor,
    bidders: list[Actor],
    sign_key: PrivateKey,
    keys_dir: pathlib.Path,
    issuer: ReferenceIssuer,
    moment: FrozenClock,
) -> list[str]:
    """A tender taken through its whole opening: sealed bids, the deadline, sign-in, decryption,
    the price reading, an objection answered, confirmations and the signed record. Played in the
    past on ``moment``: bids in the day after publication, the ceremony at the deadline a day later."""
    deadline = (moment.current + dt.timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    title = "福州市马尾区江滨路照明改造工程（演示·已开标）"
    code = tenderee.call("POST", "/api/v1/tenders", expect=201, json=tender_body(title, deadline, DEMO_PROCEDURE))[
        "code"
    ]
    upload_document(tenderee, sign_key, code, "招标文件.txt", "《江滨路照明改造工程 招标文件》\n".encode() * 30)
    tenderee.call("POST", f"/api/v1/tenders/{code}/submit")
    staff.call("POST", f"/api/v1/tenders/{code}/publish")
    keys: list[tuple[PrivateKey, PrivateKey, pathlib.Path]] = []
    for i, b in enumerate(bidders):
        moment.advance(minutes=30)
        b.call("POST", f"/api/v1/tenders/{code}/interest", expect=201)
        keys.append(seal_and_upload(b, keys_dir, code, 1, ("3650000.00", "3588000.00", "3702500.00")[i], 150 + 10 * i))
        body = {"tender": code, "lot": 1, "issuer": issuer.credit_code}
        b.call("POST", "/api/v1/guarantees", expect=201, json=body)  # 电子保函 instead of a cash bond
    moment.advance(minutes=30)
    issuer.poll()  # the issuer decides, signs and pushes; the platform verifies each guarantee
    moment.set(deadline + dt.timedelta(seconds=1))
    cid = staff.call("GET", f"/api/v1/tenders/{code}/ceremonies")["items"][0]["id"]
    for b, (sign, _, _) in zip(bidders, keys, strict=True):
        ceremony_client.sign_in(b, cid, sign)
    moment.advance(seconds=60)
    staff.call("POST", f"/api/v1/ceremonies/{cid}/advance")  # publish the bidder list
    moment.advance(seconds=60)
    staff.call("POST", f"/api/v1/ceremonies/{cid}/advance")  # open the decryption window
    for b, (sign, enc, sealed) in zip(bidders, keys, strict=True):
        moment.advance(seconds=20)
        ceremony_client.release_key(b, cid, sealed, sign, enc, encryption_cert(keys_dir, b))
    run_pending(app.extensions["ggzy.db"], services(app), "demo")
    moment.advance(seconds=60)
    staff.call("POST", f"/api/v1/ceremonies/{cid}/advance")  # price reading, all at once
    moment.advance(seconds=120)
    staff.call("POST", f"/api/v1/ceremonies/{cid}/advance")  # the record, for confirmation
    moment.advance(seconds=30)
    ceremony_client.confirm(bidders[0], cid, keys[0][0])
    obj = ceremony_client.object_(bidders[1], cid, "我方开标一览表工期为160日历天，请核对唱标结果。")
    moment.advance(seconds=60)
    staff.call(
        "POST",
        f"/api/v1/ceremonies/{cid}/objections/{obj['id']}/answer",
        json={"answer": "经核对，贵方工期为160日历天，与唱标一致，开标记录无误。"},
    )
    for i in (1, 2):
        moment.advance(seconds=30)
        ceremony_client.confirm(bidders[i], cid, keys[i][0])
    staff.call("POST", f"/api/v1/ceremonies/{cid}/advance")  # close, with the final record
    return [
        f"{code} 已完成不见面开标（3 家投标人以电子保函提交保证金、解密、唱标、1 条异议已答复、开标记录已签名），"
        f"见 /ceremonies/{cid}；保函见 /tenders/{code}/lots/1/guarantees（staff、tenderee）与 /issuer（issuer）"
    ]


def log_code(line: str) -> str:
    return line.split()[0]


def committee_draw(staff: Actor, code: str, experts: list[Actor]) -> list[str]:
    """The opened tender's committee drawn from the demo pool, committed and then run through the
    draw API; the drawn experts confirm their invitations (as on /expert)."""
    for i, x in enumerate(experts):
        body = {
            "name": display_name(x.username).removeprefix("专家 "),
            "username": x.username,
            "specialties": ["A01"],
            "region": "350100" if i < 3 else "350200",  # two from a sub-venue region (厦门)
            "employer": org_credit_code(x.username),
        }
        staff.call("POST", "/api/v1/experts", expect=201, json=body)
    slots = [  # cross-region: three at the main venue, one at a sub-venue
        {"region": "350100", "specialty": "A01", "count": 3},
        {"region": "350200", "specialty": "A01", "count": 1},
    ]
    d = staff.call("POST", f"/api/v1/tenders/{code}/lots/1/draws", expect=201, json={"slots": slots})
    d = staff.call("POST", f"/api/v1/draws/{d['id']}/run")
    for x in experts:
        for inv in x.call("GET", "/api/v1/me/invitations")["items"]:
            x.call("POST", f"/api/v1/invitations/{inv['id']}/respond", json={"accept": True})
    return [
        f"{code} 已从专家库抽取 {d['result_size']} 名评标专家（先公布快照与种子承诺，再公开种子 {d['seed'][:12]}…，"
        f"可用 ggzy draw verify {d['id']} 复算），被抽中的专家已在 /expert 确认"
    ]


def evaluation(
    app: Flask,
    staff: Actor,
    experts: list[Actor],
    representative: tuple[Actor, PrivateKey],
    code: str,
    keys_dir: pathlib.Path,
    moment: FrozenClock,
    publicity_at: dt.datetime,
) -> list[str]:
    """The committee evaluates remotely through the room API: the tenderee names itself to the
    lot's representative seat; SM2 sign-in and recusal pledge, leader, compliance, scores, checks,
    the report signed by every member; then, at ``publicity_at`` (or half an hour after the report
    if that is later), the candidates' publicity."""
    ev = staff.call("POST", f"/api/v1/tenders/{code}/lots/1/evaluation", expect=201, json={})
    url = f"/api/v1/evaluations/{ev['id']}"
    seated = {s["expert"] for s in ev["seats"]}
    committee = []
    rep, rep_key = representative
    named = rep.call(
        "POST", f"/api/v1/tenders/{code}/lots/1/representatives", expect=201, json={"username": rep.username}
    )
    rep_seat = named["named"][0]["expert"]
    for x in experts:
        me = x.call("GET", "/api/v1/me/invitations")["items"]
        if not me:
            continue
        key = make_keys(app, x, keys_dir / x.username, x.username)
        state = x.call("GET", url)
        if state["me"] not in seated:
            continue
        committee.append((x, key, state["me"]))
    committee.append((rep, rep_key, rep_seat))
    for x, key, _ in committee:
        statements = x.call("GET", url)["statements"]
        for action in ("signin", "pledge"):
            signature = base64.b64encode(key.sign(statements[action].encode())).decode()
            x.call("POST", f"{url}/{action}", json={"signature": signature})
    moment.advance(minutes=10)
    lead = committee[0]
    for x, _, _ in committee:
        x.call("POST", f"{url}/leader", json={"candidate": lead[2]})
    lead[0].call("POST", f"{url}/advance")
    bids = [b["id"] for b in lead[0].call("GET", url)["bidders"]]
    for x, _, _ in committee:
        for b in bids:
            x.call("POST", f"{url}/compliance", json={"bidder": b, "passed": True})
    lead[0].call("POST", f"{url}/advance")
    moment.advance(minutes=30)
    factors = lead[0].call("GET", url)["criteria"]["factors"]
    for n, (x, _, _) in enumerate(committee):
        for i, b in enumerate(bids):
            scores = {f["name"]: str(int(f["weight"] * (0.9 - 0.05 * i - 0.02 * (n % 2)))) for f in factors}
            if any(f.get("objective") for f in factors):  # objective factors: the same score from everyone
                scores |= {f["name"]: str(int(f["weight"] * 0.8)) for f in factors if f.get("objective")}
            total = str(sum(int(v) for v in scores.values()))
            x.call("POST", f"{url}/scores", json={"bidder": b, "scores": scores, "total": total})
    moment.advance(minutes=90)
    state = lead[0].call("POST", f"{url}/advance")
    for x, key, _ in committee:
        statement = x.call("GET", url)["statements"]["report"]
        x.call("POST", f"{url}/sign", json={"signature": base64.b64encode(key.sign(statement.encode())).decode()})
    moment.set(max(moment.current + dt.timedelta(minutes=30), publicity_at))
    staff.call("POST", f"{url}/publicity")
    ends = clock.local(dt.datetime.fromisoformat(staff.call("GET", f"{url}/publicity")["ends_at"]))
    first = state["report"]["candidates"][0]["bidder"]
    return [
        f"{code} 评标完成：{len(committee) - 1} 名专家和 1 名招标人代表（tenderee）远程签到、签署回避承诺并评分，"
        f"评标报告已由全体成员 SM2 签名"
        f"（SM3 {state['report_sm3'][:12]}…）；中标候选人公示已发布（第一名 {first}），"
        f"见 /evaluations/{ev['id']}/publicity；公示期至 {ends:%m月%d日 %H:%M}，"
        f"期间投标人（bidder1、bidder2、bidder3）可在该页提出异议，期满后招标人（tenderee）在该页确定中标人"
    ]


def joint_tender(
    app: Flask, tenderee: Actor, staff: Actor, bidders: list[Actor], sign_key: PrivateKey, keys_dir: pathlib.Path
) -> list[str]:
    """Two lots opened together (合并开标), left in their decryption window: bidder2 and bidder3
    have released their keys; bidder1's bids wait for whoever logs in as bidder1 to decrypt them
    from the page (its key files are in demo-keys/, its sealed bids in demo-bids/) or with ggzy-bid.

    Played just behind the real clock: published ten minutes ago, its deadline a minute ago, so
    the whole ceremony so far has happened and the decryption window is open for ten minutes."""
    real = clock.now()
    deadline = (real - dt.timedelta(seconds=60)).replace(microsecond=0)
    with clock.frozen(real - dt.timedelta(minutes=10)) as moment:
        return joint_tender_now(app, tenderee, staff, bidders, sign_key, keys_dir, moment, deadline)


def joint_tender_now(
    app: Flask,
    tenderee: Actor,
    staff: Actor,
    bidders: list[Actor],
    sign_key: PrivateKey,
    keys_dir: pathlib.Path,
    moment: FrozenClock,
    deadline: dt.datetime,
) -> list[str]:
    body = tender_body("福州市仓山区城市道路提升工程（演示·合并开标）", deadline, DEMO_PROCEDURE)
    first = body["lots"][0]
    body["lots"] = [
        {**first, "name": "一标段：道路施工"},
        {**first, "name": "二标段：排水管网", "estimated_price": "8600000.00", "bond_amount": "160000.00"},
    ]
    body["joint_opening"] = True
    code = tenderee.call("POST", "/api/v1/tenders", expect=201, json=body)["code"]
    upload_document(tenderee, sign_key, code, "招标文件.txt", "《城市道路提升工程 招标文件》\n".encode() * 30)
    tenderee.call("POST", f"/api/v1/tenders/{code}/submit")
    staff.call("POST", f"/api/v1/tenders/{code}/publish")
    keys: dict[tuple[int, int], tuple[PrivateKey, PrivateKey, pathlib.Path]] = {}
    for i, b in enumerate(bidders):
        moment.advance(seconds=30)
        b.call("POST", f"/api/v1/tenders/{code}/interest", expect=201)
        for lot, base in ((1, 12_100_000), (2, 8_350_000)):
            keys[(lot, i)] = seal_and_upload(b, keys_dir, code, lot, f"{base + 37_000 * i}.00", 200 + 15 * i)
    moment.set(deadline + dt.timedelta(seconds=1))
    rooms = {c["lot"]: c["id"] for c in staff.call("GET", f"/api/v1/tenders/{code}/ceremonies")["items"]}
    for (lot, i), (sign, _, _) in keys.items():
        ceremony_client.sign_in(bidders[i], rooms[lot], sign)
    moment.advance(seconds=20)
    staff.call("POST", f"/api/v1/tenders/{code}/opening/advance")  # both lots: the bidder lists
    moment.advance(seconds=20)
    staff.call("POST", f"/api/v1/tenders/{code}/opening/advance")  # both lots: decryption
    for (lot, i), (sign, enc, sealed) in keys.items():
        if i > 0:
            moment.advance(seconds=3)
            ceremony_client.release_key(
                bidders[i], rooms[lot], sealed, sign, enc, encryption_cert(keys_dir, bidders[i])
            )
    run_pending(app.extensions["ggzy.db"], services(app), "demo")
    return [
        f"{code} 两个标段合并开标，正在解密：bidder2、bidder3 已解密；以 bidder1 登录打开 /tenders/{code}/opening，"
        "进入各标段开标室，用 demo-keys/bidder1 的 sign.key、enc.key 和 demo-bids 中的加密投标文件在页面上解密"
    ]
