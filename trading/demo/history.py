"""The demo's tenders played in the past: one taken the whole way to its award and final archive
package, one opened and evaluated whose candidates are being publicised, one opened jointly and
left in its decryption."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import pathlib
from typing import Any

from flask import Flask

from archive import clock
from archive.clock import FrozenClock
from bidding import ceremony_client
from infra.reference_issuer.decisions import ReferenceIssuer
from signing.sm2 import PrivateKey
from trading.core.services import services
from trading.demo import display_name, org_credit_code
from trading.demo.actors import DEMO_PROCEDURE, SPECIALTY, Actor, key_file, make_keys, tender_body, upload_document
from trading.demo.bidders import credentials_pdf, encryption_cert, seal_and_upload
from trading.demo.integrity import compliance_reason, review_signals
from trading.demo.scheduler import History
from trading.opening.decryption import run_pending


@dataclasses.dataclass(frozen=True)
class Plan:
    """One of the history's opened tenders: its title, its document's, the three bidders' prices
    and how long it takes bids (its deadline is on the hour)."""

    title: str
    document: str
    prices: tuple[str, str, str]
    bidding: dt.timedelta = dt.timedelta(days=1)
    #: two bidders (by index) whose bids come from one office: one upload address and the same
    #: 业绩证明 file with the same document properties (the collusion signals find them)
    colluding: tuple[int, int] | None = None


LIGHTING = Plan(
    "福州市马尾区江滨路照明改造工程（演示·已开标）",
    "江滨路照明改造工程",
    ("12650000.00", "12588000.00", "12702500.00"),
    colluding=(0, 1),
)
#: where each demo bidder's office uploads from (documentation addresses, RFC 5737)
BIDDER_ADDRESSES = ("198.51.100.21", "198.51.100.37", "203.0.113.58")
PAVEMENT = Plan(
    "福州市鼓楼区湖东路人行道改造工程（演示·已定标）",
    "湖东路人行道改造工程",
    ("12450000.00", "12386000.00", "12598000.00"),
    dt.timedelta(hours=6),
)


def bid_files(plan: Plan, i: int, moment: FrozenClock, made: dict[str, bytes]) -> tuple[dict[str, bytes], str | None]:
    """Bidder ``i``'s 业绩证明 for ``plan`` and the address it uploads from (None: its own office).
    The colluding pair's is one file (kept in ``made``), made by one person an hour before the first
    of them bids."""
    if plan.colluding is not None and i in plan.colluding:
        pdf = made.setdefault("pair", credentials_pdf("张工", moment.current - dt.timedelta(hours=1), "联合体成员"))
        return {"资信标/类似工程业绩.pdf": pdf}, BIDDER_ADDRESSES[plan.colluding[0]]
    author = ("林资料员", "陈资料员", "王资料员")[i]
    pdf = credentials_pdf(author, moment.current - dt.timedelta(days=2 + i, hours=i), f"投标人{i + 1}")
    return {"资信标/类似工程业绩.pdf": pdf}, None


def opened_tender(
    app: Flask,
    tenderee: Actor,
    staff: Actor,
    bidders: list[Actor],
    sign_key: PrivateKey,
    keys_dir: pathlib.Path,
    issuer: ReferenceIssuer,
    moment: FrozenClock,
    plan: Plan = LIGHTING,
) -> list[str]:
    """A tender taken through its whole opening: sealed bids, the deadline, sign-in, decryption,
    the price reading, an objection answered, confirmations and the signed record. Played in the
    past on ``moment``: bids after publication, the ceremony at the deadline ``plan.bidding`` later."""
    deadline = (moment.current + plan.bidding).replace(minute=0, second=0, microsecond=0)
    tenderee_name = tenderee.call("GET", "/api/v1/me")["organisation"]["name"]
    body = tender_body(plan.title, deadline, DEMO_PROCEDURE, tenderee_name)
    code = tenderee.call("POST", "/api/v1/tenders", expect=201, json=body)["code"]
    upload_document(tenderee, sign_key, code, "招标文件.txt", f"《{plan.document} 招标文件》\n".encode() * 30)
    tenderee.call("POST", f"/api/v1/tenders/{code}/submit")
    staff.call("POST", f"/api/v1/tenders/{code}/publish")
    keys: list[tuple[PrivateKey, PrivateKey, pathlib.Path]] = []
    made: dict[str, bytes] = {}
    for i, b in enumerate(bidders):
        moment.advance(minutes=30)
        b.call("POST", f"/api/v1/tenders/{code}/interest", expect=201)
        keys.append(
            seal_and_upload(b, keys_dir, code, 1, plan.prices[i], 150 + 10 * i, *bid_files(plan, i, moment, made))
        )
        body = {"tender": code, "lot": 1, "issuer": issuer.credit_code}
        b.call("POST", "/api/v1/guarantees", expect=201, json=body)  # 电子保函 instead of a cash bond
    moment.advance(minutes=30)
    issuer.poll()  # the issuer decides, signs and pushes; the platform verifies each guarantee
    moment.set(deadline + dt.timedelta(seconds=1))
    cid = staff.call("GET", f"/api/v1/tenders/{code}/ceremonies")["items"][0]["id"]
    for b, (sign, _, _) in zip(bidders, keys, strict=True):
        ceremony_client.sign_in(b, cid, sign)
    moment.advance(seconds=60)
    staff.call("POST", f"/api/v1/ceremonies/{cid}/stages/bidders")  # publish the bidder list
    moment.advance(seconds=60)
    staff.call("POST", f"/api/v1/ceremonies/{cid}/stages/decrypting")  # open the decryption window
    for b, (sign, enc, sealed) in zip(bidders, keys, strict=True):
        moment.advance(seconds=20)
        ceremony_client.release_key(b, cid, sealed, sign, enc, encryption_cert(keys_dir, b))
    run_pending(app.extensions["ggzy.db"], services(app), "demo")
    moment.advance(seconds=60)
    staff.call("POST", f"/api/v1/ceremonies/{cid}/stages/reading")  # price reading, all at once
    moment.advance(seconds=120)
    staff.call("POST", f"/api/v1/ceremonies/{cid}/stages/confirming")  # the record, for confirmation
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
    staff.call("POST", f"/api/v1/ceremonies/{cid}/stages/closed")  # close, with the final record
    return [
        f"{code} 已完成不见面开标（3 家投标人以电子保函提交保证金、解密、唱标、1 条异议已答复、开标记录已签名），"
        f"见 /ceremonies/{cid}；保函见 /tenders/{code}/lots/1/guarantees（staff、tenderee）与 /issuer（issuer）"
    ]


def log_code(line: str) -> str:
    return line.split()[0]


def expert_name(x: Actor) -> str:
    """The name the pool (and the room's seats) know a demo expert by."""
    return display_name(x.username).removeprefix("专家 ")


def committee_draw(staff: Actor, code: str, experts: list[Actor], *, register: bool = True) -> list[str]:
    """The opened tender's committee drawn from the demo pool (put in the pool first when
    ``register``: the history's first draw), committed and then run through the draw API; the drawn
    experts confirm their new invitations (as on /expert)."""
    for i, x in enumerate(experts if register else []):
        body = {
            "name": expert_name(x),
            "username": x.username,
            "specialties": [SPECIALTY],
            "region": "350100" if i < 3 else "350200",  # two from a sub-venue region (厦门)
            "employer": org_credit_code(x.username),
        }
        staff.call("POST", "/api/v1/experts", expect=201, json=body)
    slots = [  # cross-region: three at the main venue, one at a sub-venue
        {"region": "350100", "specialty": SPECIALTY, "count": 3},
        {"region": "350200", "specialty": SPECIALTY, "count": 1},
    ]
    d = staff.call("POST", f"/api/v1/tenders/{code}/lots/1/draws", expect=201, json={"slots": slots})
    d = staff.call("POST", f"/api/v1/draws/{d['id']}/run")
    for x in experts:
        for inv in x.call("GET", "/api/v1/me/invitations")["items"]:
            if inv["state"] == "invited":  # an earlier draw's were answered then
                x.call("POST", f"/api/v1/invitations/{inv['id']}/respond", json={"accept": True})
    return [
        f"{code} 已从专家库抽取 {d['result_size']} 名评标专家（先公布快照与种子承诺，再公开种子 {d['seed'][:12]}…，"
        f"可用 ggzy draw verify {d['id']} 复算），被抽中的专家已在 /expert 确认"
    ]


@dataclasses.dataclass(frozen=True)
class Evaluated:
    """An evaluation played to its signed report: what its publicity and award need, and what the
    demo says of it."""

    code: str
    id: int
    experts: int
    report_sm3: str
    candidates: list[dict[str, Any]]


def evaluation(
    app: Flask,
    staff: Actor,
    experts: list[Actor],
    representative: tuple[Actor, PrivateKey],
    code: str,
    keys_dir: pathlib.Path,
    moment: FrozenClock,
) -> Evaluated:
    """The committee evaluates remotely through the room API: the tenderee names itself to the
    lot's representative seat; SM2 sign-in and recusal pledge, leader, compliance, scores, checks,
    the report signed by every member (its publicity: ``publicity``)."""
    ev = staff.call("POST", f"/api/v1/tenders/{code}/lots/1/evaluation", expect=201, json={})
    url = f"/api/v1/evaluations/{ev['id']}"
    seated = {s["name"] for s in ev["seats"]}
    committee = []
    rep, rep_key = representative
    named = rep.call(
        "POST", f"/api/v1/tenders/{code}/lots/1/representatives", expect=201, json={"username": rep.username}
    )
    rep_seat = named["named"][0]["expert"]
    for x in experts:
        if expert_name(x) not in seated:
            continue
        folder = keys_dir / x.username  # an expert keeps its keys from one evaluation to the next
        key = key_file(folder / "sign.key") if (folder / "sign.key").exists() else make_keys(app, x, folder, x.username)
        committee.append((x, key, x.call("GET", url)["me"]))
    committee.append((rep, rep_key, rep_seat))
    for x, key, _ in committee:
        statements = x.call("GET", url)["statements"]
        for action, statement in (("sign-in", "signin"), ("pledge", "pledge")):
            signature = base64.b64encode(key.sign(statements[statement].encode())).decode()
            x.call("POST", f"{url}/{action}", json={"signature": signature})
    moment.advance(minutes=10)
    lead = committee[0]
    for x, _, _ in committee:
        x.call("POST", f"{url}/leader", json={"candidate": lead[2]})
    lead[0].call("POST", f"{url}/stages/compliance")
    shown = lead[0].call("GET", url)["bidders"]
    bids = [b["opening_seat"] for b in shown]
    for x, _, _ in committee:
        for b in shown:
            vote = {"opening_seat": b["opening_seat"], "passed": True, **compliance_reason(b)}
            x.call("POST", f"{url}/compliance", json=vote)
    review_signals(lead[0], url)
    lead[0].call("POST", f"{url}/stages/scoring")
    moment.advance(minutes=30)
    factors = lead[0].call("GET", url)["criteria"]["factors"]
    for n, (x, _, _) in enumerate(committee):
        for i, b in enumerate(bids):
            scores = {f["name"]: str(int(f["weight"] * (0.9 - 0.05 * i - 0.02 * (n % 2)))) for f in factors}
            if any(f.get("objective") for f in factors):  # objective factors: the same score from everyone
                scores |= {f["name"]: str(int(f["weight"] * 0.8)) for f in factors if f.get("objective")}
            total = str(sum(int(v) for v in scores.values()))
            x.call("POST", f"{url}/scores", json={"opening_seat": b, "scores": scores, "total": total})
    moment.advance(minutes=90)
    state = lead[0].call("POST", f"{url}/stages/signing")
    for x, key, _ in committee:
        statement = x.call("GET", url)["statements"]["report"]
        x.call("POST", f"{url}/sign", json={"signature": base64.b64encode(key.sign(statement.encode())).decode()})
    return Evaluated(code, ev["id"], len(committee) - 1, state["report_sm3"], state["report"]["candidates"])


def publicity(staff: Actor, done: Evaluated, moment: FrozenClock, at: dt.datetime | None = None) -> list[str]:
    """Staff publish the candidates' publicity at ``at`` (or half an hour after the report if that
    is later): the evaluation as the demo tells it, with the publicity a bidder can object in."""
    moment.set(max(moment.current + dt.timedelta(minutes=30), at or moment.current))
    url = f"/api/v1/evaluations/{done.id}/publicity"
    staff.call("POST", url)
    ends = clock.local(dt.datetime.fromisoformat(staff.call("GET", url)["ends_at"]))
    return [
        f"{done.code} 评标完成：{done.experts} 名专家和 1 名招标人代表（tenderee）远程签到、签署回避承诺并评分，"
        f"评标报告已由全体成员 SM2 签名"
        f"（SM3 {done.report_sm3[:12]}…）；中标候选人公示已发布（第一名 {done.candidates[0]['bidder']}），"
        f"见 /evaluations/{done.id}/publicity；公示期至 {ends:%m月%d日 %H:%M}，"
        f"期间投标人（bidder1、bidder2、bidder3）可在该页提出异议，期满后招标人（tenderee）在该页确定中标人"
    ]


def award(tenderee: Actor, staff: Actor, done: Evaluated, moment: FrozenClock, scheduler: History) -> list[str]:
    """Once the publicity has run its days with no objection, the tenderee confirms the first
    candidate (the result announcement and the signed award notice follow); within seconds the
    scheduler signs the checkpoint the award asked for and builds the lot's final archive package,
    and within minutes releases the guarantees of the bidders who did not win."""
    url = f"/api/v1/evaluations/{done.id}"
    ends = dt.datetime.fromisoformat(tenderee.call("GET", f"{url}/publicity")["ends_at"])
    moment.set(max(moment.current, ends) + dt.timedelta(minutes=45))
    winner = done.candidates[0]
    tenderee.call("POST", f"{url}/award", json={"winner": winner["bidder_id"]})
    scheduler.archive(moment)
    released = scheduler.run(moment, "release_guarantees", 300)
    packages = staff.call("GET", f"/api/v1/archives?q={done.code}")["items"]
    final = next((p for p in packages if p["end_state"] == "awarded"), None)
    if final is None:
        raise RuntimeError(f"demo: no archive package for the award of {done.code}: {packages}")
    cid = staff.call("GET", f"/api/v1/tenders/{done.code}/ceremonies")["items"][0]["id"]
    return [
        f"{done.code} 已定标：开标（/ceremonies/{cid}）、评标、中标候选人公示 3 日期满无异议后，"
        f"招标人（{tenderee.username}）确定中标人 {winner['bidder']}，中标结果公告和平台签名的中标通知书已发布，"
        f"见 /evaluations/{done.id}/publicity（通知书 /api/v1/evaluations/{done.id}/notice.pdf）；"
        f"未中标人的 {released} 份保函已释放；最终档案包 /archives/{final['id']}（staff、supervisor），"
        f"可用 ggzy archive verify {final['id']} 核验"
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
            # honest prices: no equal gaps between them (the collusion signals would mark those)
            keys[(lot, i)] = seal_and_upload(
                b, keys_dir, code, lot, f"{base + (0, 37_000, 91_000)[i]}.00", 200 + 15 * i
            )
    moment.set(deadline + dt.timedelta(seconds=1))
    rooms = {c["lot"]: c["id"] for c in staff.call("GET", f"/api/v1/tenders/{code}/ceremonies")["items"]}
    for (lot, i), (sign, _, _) in keys.items():
        ceremony_client.sign_in(bidders[i], rooms[lot], sign)
    moment.advance(seconds=20)
    staff.call("POST", f"/api/v1/tenders/{code}/opening/stages/bidders")  # both lots: the bidder lists
    moment.advance(seconds=20)
    staff.call("POST", f"/api/v1/tenders/{code}/opening/stages/decrypting")  # both lots: decryption
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
