"""The demo's script: it plays the history in the past, then the live tenders. Its actors act
through the platform's real HTTP API (the app's own request handling, permissions and operations,
in-process) with bearer tokens, and prepare their keys the way ``ggzy-bid`` does, so a newcomer can
watch a tender move and then click through it as any role.
"""

from __future__ import annotations

import datetime as dt
import pathlib

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.clock import FrozenClock
from signing.sm2 import PrivateKey
from trading.demo import auctions
from trading.demo.actors import (
    DEMO_PROCEDURE,
    PUBLICITY_DAYS,
    Actor,
    ensure_demo_procedure,
    make_keys,
    tender_body,
    upload_document,
)
from trading.demo.bidders import demo_issuer
from trading.demo.history import (
    BIDDER_ADDRESSES,
    PAVEMENT,
    award,
    committee_draw,
    evaluation,
    joint_tender,
    log_code,
    opened_tender,
    publicity,
)
from trading.demo.integrity import credit_list, rate_experts, rate_services, refused_registration
from trading.demo.scheduler import History
from trading.demo.supervision import (
    RED_TITLE,
    YELLOW_TITLE,
    complaint_in_progress,
    statistics_history,
    stuck_in_review,
    yellow_submission,
)
from trading.tenders.models import Tender

HISTORY = dt.timedelta(days=6)
"""How far back the demo's history starts: a tender is submitted for the center's review then and
left in the queue (six days always hold its 3 working days: its clock is red when the demo starts),
the opened tender is published, opened a day later and evaluated the same day; its candidates are publicised the next day (within the 3 days the law
allows), so that the publicity ends ``PUBLICITY_LEFT`` after the demo. The tender taken the whole
way is published after that evaluation and takes bids for six hours; its candidates are publicised
the same day, so their 3 days end, and the tenderee awards, hours before the demo."""

PUBLICITY_LEFT = dt.timedelta(hours=2)
"""How long the demo's candidate publicity still runs when the demo ends: long enough for a bidder
to try an objection, short enough for the tenderee to award the same afternoon."""


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
    opened and evaluated tender, the tender awarded and archived beside it, the scheduler's sweeps
    at the moments it ran them) is played first under a clock frozen in the past, from
    ``history_start(start)``, the first tender's publicity started so that it ends
    ``PUBLICITY_LEFT`` after ``start``; then the joint opening, whose deadline is just behind the
    real clock so its decryption window is open when the demo ends; then the live tenders at the
    real clock."""
    if session.scalar(select(Tender.id).limit(1)) is not None:
        return []
    log: list[str] = []
    start = start or clock.now()
    with clock.frozen(history_start(start) + dt.timedelta(minutes=1)) as moment:
        ensure_demo_procedure(session)
        session.commit()
        auctions.ensure_procedures(session)
        tenderee = Actor(app, "tenderee", accounts["tenderee"])
        staff = Actor(app, "staff", accounts["staff"])
        bidders = [Actor(app, f"bidder{i}", accounts[f"bidder{i}"], BIDDER_ADDRESSES[i - 1]) for i in (1, 2, 3)]
        sign_key = make_keys(app, tenderee, keys_dir / "tenderee", "福州市城乡建设发展集团有限公司")
        tenderee2 = Actor(app, "tenderee2", accounts["tenderee2"])
        sign_key2 = make_keys(app, tenderee2, keys_dir / "tenderee2", "福州市鼓楼区市政工程建设中心")
        bidder_keys = [make_keys(app, b, keys_dir / b.username, b.username) for b in bidders]
        supervisor = Actor(app, "supervisor", accounts["supervisor"])
        log += credit_list(staff, moment.current)
        late = stuck_in_review(tenderee, sign_key, RED_TITLE, start + dt.timedelta(days=40))
        yellow: list[str] = []
        issuer = demo_issuer(app, Actor(app, "issuer", accounts["issuer"]), keys_dir)
        scheduler = History(app)
        moment.advance(minutes=5)
        log += auctions.history_lots(staff, bidders, bidder_keys, moment, scheduler)
        moment.advance(minutes=10)
        log += opened_tender(app, tenderee, staff, bidders, sign_key, keys_dir, issuer, moment)
        scheduler.archive(moment)  # the closed opening's package
        scheduler.run(moment, "collusion_signals", 10)  # the lot's signals, within the minute
        opened = log_code(log[-1])
        experts = [Actor(app, f"expert{i}", accounts[f"expert{i}"]) for i in range(1, 6)]
        moment.advance(minutes=40)
        log += committee_draw(staff, opened, experts)
        moment.advance(minutes=60)
        evaluated = evaluation(app, staff, experts, (tenderee, sign_key), opened, keys_dir, moment)
        # the tender taken the whole way (another tenderee's: the pool is small), published once the
        # first is evaluated; its publicity starts before the first's, so it ends before the demo
        moment.advance(minutes=30)
        plays = opened_tender(app, tenderee2, staff, bidders, sign_key2, keys_dir, issuer, moment, PAVEMENT)
        scheduler.archive(moment)
        scheduler.run(moment, "collusion_signals", 10)
        whole = log_code(plays[-1])
        moment.advance(minutes=40)
        committee_draw(staff, whole, experts, register=False)
        moment.advance(minutes=60)
        awarded = evaluation(app, staff, experts, (tenderee2, sign_key2), whole, keys_dir, moment)
        publicity(staff, awarded, moment)
        scheduler.open_data(moment)
        log += rate_experts(staff, tenderee2, awarded.id)
        log += rate_services(staff, tenderee2, bidders, (whole, awarded.id), opened, moment)
        publicity_at = start - dt.timedelta(days=PUBLICITY_DAYS) + PUBLICITY_LEFT
        moment.advance(minutes=20)
        log += complaint_in_progress(bidders[2], bidder_keys[2], supervisor, tenderee, opened, moment)
        review_later(session, tenderee2, sign_key2, moment, start, publicity_at - dt.timedelta(minutes=40), yellow)
        log += publicity(staff, evaluated, moment, publicity_at)
        scheduler.open_data(moment)
        review_later(session, tenderee2, sign_key2, moment, start, start - dt.timedelta(days=1), yellow)
        log += award(tenderee2, staff, awarded, moment, scheduler)
        review_later(session, tenderee2, sign_key2, moment, start, start - dt.timedelta(minutes=30), yellow)
        if not yellow:
            raise RuntimeError(f"demo: no instant in the history leaves a review yellow at {start}")
        statistics_history(app)
        scheduler.finish(moment)
        log.append(
            f"{late} 已在审核队列中超过3个工作日（红灯），{yellow[0]} 已超过1个工作日（黄灯）：见 /supervision/warnings"
            "（supervisor、staff）；staff 发布或退回后计时停止，红灯保留在记录中"
        )
        log.append("交易统计 /supervision/statistics 含演示生成的近一年数据（已标明，不进入审计日志）")
        if moment.current >= start:
            raise RuntimeError(f"demo: the history ran past its end ({moment.current} ≥ {start})")
    log += joint_tender(app, tenderee, staff, bidders, sign_key, keys_dir)

    deadline = (clock.now() + dt.timedelta(minutes=minutes)).replace(second=0, microsecond=0)
    t = tenderee.call(
        "POST",
        "/api/v1/tenders",
        expect=201,
        json=tender_body("福州市滨海新城纵一路道路改造工程（演示）", deadline, DEMO_PROCEDURE),
    )
    code = t["code"]
    doc = (
        "《福州市滨海新城纵一路道路改造工程 招标文件》\n第一章 招标公告\n第二章 投标人须知\n"
        "第三章 评标办法（综合评估法）\n第四章 合同条款\n第五章 工程量清单\n"
    ).encode() * 40
    upload_document(tenderee, sign_key, code, "招标文件.txt", doc)
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
        json={"answer": "面层厚度为 6 厘米，详见施工图第 3 张（路面结构图）。"},
    )
    live.append("3 家投标人已报名并下载招标文件（名单对他人保密），1 个问题已答复")
    live += refused_registration(Actor(app, "bidder4", accounts["bidder4"], "192.0.2.44"), code)
    live += auctions.live_lot(staff, bidders)

    later = clock.now() + dt.timedelta(days=25)
    t2 = tenderee.call(
        "POST",
        "/api/v1/tenders",
        expect=201,
        json=tender_body("福州市闽江北岸排涝泵站土建工程（演示）", later, "construction_open"),
    )
    doc2 = "《排涝泵站土建工程 招标文件》\n".encode() * 30
    upload_document(tenderee, sign_key, t2["code"], "招标文件.txt", doc2)
    tenderee.call("POST", f"/api/v1/tenders/{t2['code']}/submit")
    live.append(f"{t2['code']} 已提交审核，等待交易中心工作人员（staff）在“审核队列”中发布或退回")
    return live + log


def review_later(
    session: Session,
    tenderee: Actor,
    key: PrivateKey,
    moment: FrozenClock,
    start: dt.datetime,
    before: dt.datetime,
    placed: list[str],
) -> None:
    """Submit the yellow review tender at the latest fitting instant before ``before``, once."""
    if placed:
        return
    at = yellow_submission(session, start, moment.current, before)
    if at is not None:
        moment.set(at)
        placed.append(stuck_in_review(tenderee, key, YELLOW_TITLE, start + dt.timedelta(days=40)))
