"""The demo's scripted actors. They act through the platform's real HTTP API (the app's own request
handling, permissions and operations, in-process) with bearer tokens, and prepare their keys the
way ``ggzy-bid`` does, so a newcomer can watch a tender move and then click through it as any role.
"""

from __future__ import annotations

import base64
import datetime as dt
import pathlib
import zipfile
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import ActorRef, record_event
from archive.clock import FrozenClock
from bidding import ceremony_client
from bidding.client import ApiError, head_length
from bidding.part_digests import seal_file
from infra.reference_issuer.client import IssuerClient, flask_transport
from infra.reference_issuer.decisions import ReferenceIssuer
from signing.certs import Certificate, Usage
from signing.digest import SM3, sm3_hex
from signing.price_sheet import FILENAME as PRICE_SHEET
from signing.price_sheet import build_price_sheet
from signing.sm2 import PrivateKey
from signing.statements import tender_document_statement
from trading.core.platform_keys import ensure_platform_keys
from trading.core.services import services
from trading.demo import display_name, org_credit_code
from trading.opening.decryption import run_pending
from trading.procedures.models import AmendmentPolicy, DayKind, ProcedureType
from trading.procedures.scoring import SCORING_TEMPLATES
from trading.tenders.models import Tender

DEMO_PROCEDURE = "demo_fast"
KEY_PASSWORD = b"demo-key-password"  # printed by `ggzy demo`; demo keys only


def ensure_demo_procedure(session: Session) -> None:
    """A procedure with no minimum periods, so the demo's deadline can be minutes away.
    It exists only in demo instances and says so in its name and source."""
    if session.get(ProcedureType, DEMO_PROCEDURE) is not None:
        return
    session.add(
        ProcedureType(
            code=DEMO_PROCEDURE,
            name="演示用快速流程（仅演示实例）",
            day_kind=DayKind.CALENDAR,
            min_bid_days=0,
            amendment_lead_days=0,
            amendment_policy=AmendmentPolicy.EXTEND,
            min_valid_bids=3,
            publicity_days=0,
            decryption_window_minutes=10,
            archive_retention_years=15,
            source="演示数据，不适用于真实项目",
        )
    )
    session.flush()
    record_event(
        session,
        ActorRef("cli:demo-seed", "admin"),
        "procedure.create",
        ("procedure", DEMO_PROCEDURE),
        {"code": DEMO_PROCEDURE},
    )


class Actor:
    def __init__(self, app: Flask, username: str, password: str) -> None:
        self.client = app.test_client()
        r = self.client.post("/api/v1/auth/token", json={"username": username, "password": password, "name": "demo"})
        if r.status_code != 201:
            raise RuntimeError(f"demo login {username}: {r.get_json()}")
        self.headers = {"Authorization": f"Bearer {r.get_json()['token']}"}
        self.username = username

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """The ``bidding.client.Requester`` shape, so the demo runs ggzy-bid's own flows."""
        r = self.client.open(path, method=method, headers=self.headers, json=body)
        if r.status_code >= 400:
            err = (r.get_json() or {}).get("error", {})
            raise ApiError(r.status_code, err.get("code", "error"), err.get("message", r.get_data(as_text=True)))
        return r.get_json() if r.is_json else r.data

    def call(self, method: str, url: str, expect: int = 200, **kw: Any) -> Any:
        r = self.client.open(url, method=method, headers=self.headers | kw.pop("headers", {}), **kw)
        if r.status_code != expect:
            raise RuntimeError(f"demo {self.username} {method} {url}: {r.status_code} {r.get_data(as_text=True)}")
        return r.get_json() if r.is_json else r.data


#: The keys this process made, by file: reading them back would repeat each file's PBKDF2 (0.1 s).
made_keys: dict[pathlib.Path, PrivateKey] = {}


def key_file(path: pathlib.Path) -> PrivateKey:
    """A demo key, as ``ggzy-bid`` reads it from its folder (or as this process made it)."""
    return made_keys.get(path) or PrivateKey.from_pem(path.read_bytes(), KEY_PASSWORD)


def make_keys(app: Flask, actor: Actor, folder: pathlib.Path, common_name: str) -> PrivateKey:
    """What `ggzy-bid keygen` + `ggzy ca issue` + registering on /account/certificates do."""
    keys = ensure_platform_keys(app.extensions["ggzy.settings"])
    folder.mkdir(parents=True, exist_ok=True)
    org_code = None  # demo certificates name no organisation code (real UKey certificates do)
    sign_key = PrivateKey.generate()
    for kind, usage, key in (("sign", Usage.SIGN, sign_key), ("enc", Usage.ENCRYPT, PrivateKey.generate())):
        cert = keys.ca.issue(key.public_key, common_name=common_name, usage=usage, now=clock.now(), org_code=org_code)
        (folder / f"{kind}.key").write_bytes(key.to_pem(KEY_PASSWORD))
        (folder / f"{kind}.key").chmod(0o600)
        made_keys[folder / f"{kind}.key"] = key
        (folder / f"{kind}.pub").write_bytes(key.public_key.to_pem())
        (folder / f"{kind}.crt").write_bytes(cert.to_pem())
        actor.call(
            "POST",
            "/api/v1/me/certificates",
            expect=201,
            json={"certificate_pem": cert.to_pem().decode(), "usage": usage.value},
        )
    (folder.parent / "root.pem").write_bytes(keys.ca.cert.to_pem())
    return sign_key


def _upload_document(tenderee: Actor, key: PrivateKey, code: str, name: str, data: bytes) -> None:
    """What the tenderee does with `ggzy-bid sign-document` and the upload form."""
    sig = base64.b64encode(key.sign(tender_document_statement(code, name, sm3_hex(data), len(data)))).decode()
    tenderee.call(
        "POST",
        f"/api/v1/tenders/{code}/documents",
        expect=201,
        data=data,
        headers={"Content-Type": "application/octet-stream", "X-Document-Name": quote(name), "X-Signature": sig},
    )


def _body(title: str, deadline: dt.datetime, procedure: str) -> dict[str, Any]:
    return {
        "title": title,
        "category": "construction",
        "procedure_code": procedure,
        "region": "350100",
        "bid_deadline": deadline.isoformat(),
        "description": "演示项目：可以看着它从发布走到投标截止。",
        "announcement_body": f"{title}已由福州市发展和改革委员会批准建设，资金来自财政资金，招标人为福州市城乡建设发展集团有限公司。"
        "现对该项目施工进行公开招标，欢迎具备市政公用工程施工总承包二级及以上资质的投标人参加。",
        "lots": [
            {
                "name": "施工标段",
                "estimated_price": "12800000.00",
                "bond_amount": "250000.00",
                "evaluation_method": "comprehensive",
                "criteria": SCORING_TEMPLATES["construction"]["criteria"],  # as the tenderee's form offers
                "committee_size": 5,
                "specialties": [{"code": "A01", "count": 4}],
                "price_fields": [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}],
            }
        ],
    }


HISTORY = dt.timedelta(days=3)
"""How far back the demo's history starts: the opened tender is published then, opened a day later
and evaluated the same day, so its 3-day publicity is still running when the demo ends."""


def history_start(now: dt.datetime) -> dt.datetime:
    """The instant the demo's history begins (its instance, keys and accounts are made then, so
    every certificate is already valid when the history uses it)."""
    return (now - HISTORY).replace(second=0, microsecond=0)


def run(
    app: Flask,
    session: Session,
    accounts: dict[str, str],
    keys_dir: pathlib.Path,
    minutes: int = 15,
    start: dt.datetime | None = None,
) -> list[str]:
    """Play the demo once (idempotent: nothing happens when tenders already exist).

    The audit trail records only instants that have happened, in order: the history (keys, the
    opened and evaluated tender) is played first under a clock frozen in the past, from
    ``history_start(start)``; then the joint opening, whose deadline is just behind the real clock so
    its decryption window is open when the demo ends; then the live tenders at the real clock."""
    if session.scalar(select(Tender.id).limit(1)) is not None:
        return []
    log: list[str] = []
    start = start or clock.now()
    with clock.frozen(history_start(start) + dt.timedelta(minutes=1)) as moment:
        ensure_demo_procedure(session)
        session.commit()
        tenderee = Actor(app, "tenderee", accounts["tenderee"])
        staff = Actor(app, "staff", accounts["staff"])
        bidders = [Actor(app, f"bidder{i}", accounts[f"bidder{i}"]) for i in (1, 2, 3)]
        sign_key = make_keys(app, tenderee, keys_dir / "tenderee", "福州市城乡建设发展集团有限公司")
        for b in bidders:
            make_keys(app, b, keys_dir / b.username, b.username)
        issuer = demo_issuer(app, Actor(app, "issuer", accounts["issuer"]), keys_dir)
        moment.advance(minutes=10)
        log += opened_tender(app, tenderee, staff, bidders, sign_key, keys_dir, issuer, moment)
        opened = log_code(log[-1])
        experts = [Actor(app, f"expert{i}", accounts[f"expert{i}"]) for i in range(1, 6)]
        moment.advance(minutes=40)
        log += committee_draw(staff, opened, experts)
        moment.advance(minutes=60)
        log += evaluation(app, staff, experts, (tenderee, sign_key), opened, keys_dir, moment)
    log += joint_tender(app, tenderee, staff, bidders, sign_key, keys_dir)

    deadline = (clock.now() + dt.timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    t = tenderee.call(
        "POST",
        "/api/v1/tenders",
        expect=201,
        json=_body("福州市滨海新城纵一路道路改造工程（演示）", deadline, DEMO_PROCEDURE),
    )
    code = t["code"]
    doc = (
        "《福州市滨海新城纵一路道路改造工程 招标文件》\n第一章 招标公告\n第二章 投标人须知\n"
        "第三章 评标办法（综合评估法）\n第四章 合同条款\n第五章 工程量清单\n"
    ).encode() * 40
    _upload_document(tenderee, sign_key, code, "招标文件.txt", doc)
    tenderee.call("POST", f"/api/v1/tenders/{code}/submit")
    staff.call("POST", f"/api/v1/tenders/{code}/publish")
    live = [f"{code} 已发布，投标截止 {clock.local(deadline):%H:%M}（{minutes} 分钟后），届时自动截止"]
    doc_id = tenderee.call("GET", f"/api/v1/tenders/{code}")["documents"][0]["id"]
    for b in bidders:
        b.call("POST", f"/api/v1/tenders/{code}/interest", expect=201)
        b.call("GET", f"/api/v1/tenders/{code}/documents/{doc_id}")
    q = bidders[0].call(
        "POST",
        f"/api/v1/tenders/{code}/questions",
        expect=201,
        json={"text": "招标文件第五章工程量清单中沥青混凝土面层厚度是否为 6 厘米？"},
    )
    tenderee.call(
        "POST",
        f"/api/v1/tenders/{code}/questions/{q['id']}/answer",
        json={"answer": "面层厚度为 6 厘米，详见图纸 S-03。"},
    )
    live.append("3 家投标人已报名并下载招标文件（名单对他人保密），1 个问题已答复")

    later = clock.now() + dt.timedelta(days=25)
    t2 = tenderee.call(
        "POST",
        "/api/v1/tenders",
        expect=201,
        json=_body("福州市闽江北岸排涝泵站设备采购与安装（演示）", later, "construction_open"),
    )
    doc2 = "《排涝泵站设备采购与安装 招标文件》\n".encode() * 30
    _upload_document(tenderee, sign_key, t2["code"], "招标文件.txt", doc2)
    tenderee.call("POST", f"/api/v1/tenders/{t2['code']}/submit")
    live.append(f"{t2['code']} 已提交审核，等待交易中心工作人员（staff）在“审核队列”中发布或退回")
    return live + log


def _upload(actor: Actor, sealed: pathlib.Path, code: str, lot: int = 1) -> None:
    """init → parts (with the prefix SM3) → complete: the upload API that `ggzy-bid upload` drives."""
    data = sealed.read_bytes()
    head = data[: head_length(sealed)]
    up = actor.call(
        "POST",
        "/api/v1/bids/uploads",
        expect=201,
        json={"tender": code, "lot": lot, "size": len(data), "head": base64.b64encode(head).decode()},
    )
    h = SM3()
    for n, start in enumerate(range(0, len(data), up["part_size"]), start=1):
        part = data[start : start + up["part_size"]]
        h.update(part)
        actor.call(
            "PUT",
            f"/api/v1/bids/uploads/{up['upload_id']}/parts/{n}",
            data=part,
            headers={"X-Prefix-SM3": h.hexdigest(), "Content-Type": "application/octet-stream"},
        )
    actor.call("POST", f"/api/v1/bids/uploads/{up['upload_id']}/complete", expect=201)


def _bid(
    b: Actor, keys_dir: pathlib.Path, code: str, lot: int, price: str, days: int
) -> tuple[PrivateKey, PrivateKey, pathlib.Path]:
    """A demo bidder builds, seals and uploads its bid for one lot, as ``ggzy-bid build | seal | upload``
    do; the sealed file stays in ``demo-bids/`` for whoever plays the bidder afterwards."""
    declared = [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}]
    bids = keys_dir.parent / "demo-bids"
    bids.mkdir(parents=True, exist_ok=True)
    folder = keys_dir / b.username
    sign = key_file(folder / "sign.key")
    enc = key_file(folder / "enc.key")
    credit = b.call("GET", "/api/v1/me")["organisation"]["credit_code"]
    name = f"{b.username}-{code}" + (f"-lot{lot}" if lot != 1 else "")
    pkg = bids / f"{name}.zip"
    with zipfile.ZipFile(pkg, "w") as z:
        z.writestr(PRICE_SHEET, build_price_sheet(code, lot, price, {"duration_days": str(days)}, declared))
        z.writestr("技术标/施工组织设计.txt", f"{b.username} 的施工组织设计（演示）".encode())
    sealed = bids / f"{name}.sealed"
    seal_file(
        pkg,
        sealed,
        tender_id=code,
        lot_id=str(lot),
        bidder_id=credit,
        signing_key=sign,
        signing_cert=Certificate.load((folder / "sign.crt").read_bytes()),
        recipient_cert=Certificate.load((folder / "enc.crt").read_bytes()),
        now=clock.now(),
    )
    _upload(b, sealed, code, lot)
    return sign, enc, sealed


def _enc_cert(keys_dir: pathlib.Path, b: Actor) -> Certificate:
    """The demo bidder's encryption certificate, which ``release_key`` checks the header names."""
    return Certificate.load((keys_dir / b.username / "enc.crt").read_bytes())


def demo_issuer(app: Flask, actor: Actor, keys_dir: pathlib.Path) -> ReferenceIssuer:
    """The demo's guarantee issuer: the reference issuer's decisions, its API client the demo's
    ``issuer`` account with keys of its own, talking to the signed issuer API in-process."""
    make_keys(app, actor, keys_dir / "issuer", "演示担保有限公司")
    folder = keys_dir / "issuer"
    sign = key_file(folder / "sign.key")
    enc = key_file(folder / "enc.key")
    platform = Certificate.from_pem(actor.call("GET", "/api/v1/platform/certificates")["signing_certificate"].encode())
    client = IssuerClient(
        flask_transport(actor.client),
        actor.username,
        sign,
        Certificate.load((folder / "sign.crt").read_bytes()),
        platform,
    )
    me = client.whoami()
    return ReferenceIssuer(client, enc, me["credit_code"], me["name"], Decimal("5000000.00"))


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
    code = tenderee.call("POST", "/api/v1/tenders", expect=201, json=_body(title, deadline, DEMO_PROCEDURE))["code"]
    _upload_document(tenderee, sign_key, code, "招标文件.txt", "《江滨路照明改造工程 招标文件》\n".encode() * 30)
    tenderee.call("POST", f"/api/v1/tenders/{code}/submit")
    staff.call("POST", f"/api/v1/tenders/{code}/publish")
    keys: list[tuple[PrivateKey, PrivateKey, pathlib.Path]] = []
    for i, b in enumerate(bidders):
        moment.advance(minutes=30)
        b.call("POST", f"/api/v1/tenders/{code}/interest", expect=201)
        keys.append(_bid(b, keys_dir, code, 1, ("3650000.00", "3588000.00", "3702500.00")[i], 150 + 10 * i))
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
        ceremony_client.release_key(b, cid, sealed, sign, enc, _enc_cert(keys_dir, b))
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
) -> list[str]:
    """The committee evaluates remotely through the room API: the tenderee names itself to the
    lot's representative seat; SM2 sign-in and recusal pledge, leader, compliance, scores, checks,
    the report signed by every member; then the publicity."""
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
    moment.advance(minutes=30)
    staff.call("POST", f"{url}/publicity")
    first = state["report"]["candidates"][0]["bidder"]
    return [
        f"{code} 评标完成：{len(committee) - 1} 名专家和 1 名招标人代表（tenderee）远程签到、签署回避承诺并评分，"
        f"评标报告已由全体成员 SM2 签名"
        f"（SM3 {state['report_sm3'][:12]}…）；中标候选人公示已发布（第一名 {first}），"
        f"见 /evaluations/{ev['id']}/publicity；公示期满后招标人（tenderee）可在该页确定中标人"
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
        return _joint_tender(app, tenderee, staff, bidders, sign_key, keys_dir, moment, deadline)


def _joint_tender(
    app: Flask,
    tenderee: Actor,
    staff: Actor,
    bidders: list[Actor],
    sign_key: PrivateKey,
    keys_dir: pathlib.Path,
    moment: FrozenClock,
    deadline: dt.datetime,
) -> list[str]:
    body = _body("福州市仓山区城市道路提升工程（演示·合并开标）", deadline, DEMO_PROCEDURE)
    first = body["lots"][0]
    body["lots"] = [
        {**first, "name": "一标段：道路施工"},
        {**first, "name": "二标段：排水管网", "estimated_price": "8600000.00", "bond_amount": "160000.00"},
    ]
    body["joint_opening"] = True
    code = tenderee.call("POST", "/api/v1/tenders", expect=201, json=body)["code"]
    _upload_document(tenderee, sign_key, code, "招标文件.txt", "《城市道路提升工程 招标文件》\n".encode() * 30)
    tenderee.call("POST", f"/api/v1/tenders/{code}/submit")
    staff.call("POST", f"/api/v1/tenders/{code}/publish")
    keys: dict[tuple[int, int], tuple[PrivateKey, PrivateKey, pathlib.Path]] = {}
    for i, b in enumerate(bidders):
        moment.advance(seconds=30)
        b.call("POST", f"/api/v1/tenders/{code}/interest", expect=201)
        for lot, base in ((1, 12_100_000), (2, 8_350_000)):
            keys[(lot, i)] = _bid(b, keys_dir, code, lot, f"{base + 37_000 * i}.00", 200 + 15 * i)
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
            ceremony_client.release_key(bidders[i], rooms[lot], sealed, sign, enc, _enc_cert(keys_dir, bidders[i]))
    run_pending(app.extensions["ggzy.db"], services(app), "demo")
    return [
        f"{code} 两个标段合并开标，正在解密：bidder2、bidder3 已解密；以 bidder1 登录打开 /tenders/{code}/opening，"
        "进入各标段开标室，用 demo-keys/bidder1 的 sign.key、enc.key 和 demo-bids 中的加密投标文件在页面上解密"
    ]
