"""What the demo's history gives the supervisors to see: two tenders waiting in the trading center's
review queue (one past its 3 working days: 红灯; one a working day in: 黄灯), a complaint (投诉) in
progress about the publicised tender, and a year of generated statistics.

Every instant is one the history's frozen clock passes through, in order: the tender that is late
is submitted as the history begins; the one that is yellow is submitted at the latest instant of the
history at which it is yellow when the demo starts (the working-day calendar decides which day that
is; ``yellow_instant`` finds it). The generated statistics are marked as such and never enter the
audit trail (``trading.supervision.facts.generate_history``).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json

from flask import Flask
from sqlalchemy.orm import Session

from archive import clock
from archive.clock import FrozenClock
from signing.digest import sm3_hex
from signing.sm2 import PrivateKey
from signing.statements import complaint_statement
from trading.demo import org_credit_code
from trading.demo.actors import Actor, tender_body, upload_document
from trading.procedures.operations import overrides
from trading.supervision.facts import generate_history
from trading.supervision.models import Colour
from trading.supervision.rules import SEED_BY_CODE, colour_at, due_instant, yellow_instant

RED_TITLE = "福州市仓山区城门中心小学食堂改造工程（演示·待审核超期）"
YELLOW_TITLE = "福州市晋安区鼓山镇农村供水管网改造工程（演示·待审核）"
#: the margins around the demo's start within which the yellow tender must stay yellow
YELLOW_FROM, YELLOW_UNTIL = dt.timedelta(minutes=30), dt.timedelta(hours=3)


def stuck_in_review(tenderee: Actor, key: PrivateKey, title: str, deadline: dt.datetime) -> str:
    """A tender drafted, its documents uploaded and submitted for the center's review, and left there."""
    t = tenderee.call("POST", "/api/v1/tenders", expect=201, json=tender_body(title, deadline, "construction_open"))
    code = str(t["code"])
    upload_document(tenderee, key, code, "招标文件.txt", f"《{title} 招标文件》\n第一章 招标公告\n".encode() * 20)
    tenderee.call("POST", f"/api/v1/tenders/{code}/submit")
    return code


def yellow_submission(
    session: Session, start: dt.datetime, after: dt.datetime, before: dt.datetime
) -> dt.datetime | None:
    """The latest instant in ``[after, before)`` (on the half hour) at which a tender submitted for
    review is yellow from ``YELLOW_FROM`` after ``start`` until at least ``YELLOW_UNTIL`` after it
    (None: none in this window)."""
    rule, days = SEED_BY_CODE["staff_review"], overrides(session)
    session.commit()  # end the read: on SQLite an open read would hold the writers of the actors' requests
    t = before.replace(minute=0, second=0, microsecond=0)
    while t >= after:
        if t < before:
            y, due = yellow_instant(t, rule, days), due_instant(t, rule, days)
            if colour_at(y, due, None, start + YELLOW_FROM) is Colour.YELLOW and due > start + YELLOW_UNTIL:
                return t
        t -= dt.timedelta(minutes=30)
    return None


def complaint_in_progress(
    complainant: Actor, key: PrivateKey, supervisor: Actor, tenderee: Actor, code: str, moment: FrozenClock
) -> list[str]:
    """A bidder complains to the supervising department of suspected collusion (串通投标, 招标投标法第三十二条,
    实施条例第四十条: a matter that needs no objection first); the department accepts it the same day,
    asks the tenderee for a statement, which comes the next morning; the decision is pending."""
    grounds = (
        "第一中标候选人与另一投标人的投标文件由同一台计算机编制（文件属性中的作者和创建时间一致），"
        "两家的工期和报价偏差呈规律性差异，涉嫌《招标投标法实施条例》第四十条规定的串通投标情形。"
    )
    requests = "请求行政监督部门调查核实，依法认定投标无效并处理。"
    evidence = "两份投标文件中《类似工程业绩》PDF 的文件属性说明（演示）。\n作者均为“张工”，创建时间相同。\n".encode()
    listed = [{"name": "文件属性说明.txt", "sm3": sm3_hex(evidence), "size": len(evidence)}]
    statement = complaint_statement(
        tender_code=code,
        lot_number=1,
        complainant=org_credit_code(complainant.username),
        kind="construction",
        matter="other",
        grounds=grounds,
        requests=requests,
        evidence=listed,
    )
    body = {
        "tender": code,
        "lot": 1,
        "kind": "construction",
        "matter": "other",
        "grounds": grounds,
        "requests": requests,
        "evidence": listed,
        "signature": base64.b64encode(key.sign(statement)).decode(),
    }
    c = complainant.call(
        "POST",
        "/api/v1/complaints",
        expect=201,
        data={
            "complaint": json.dumps(body, ensure_ascii=False),
            "evidence": [(io.BytesIO(evidence), "文件属性说明.txt")],
        },
        content_type="multipart/form-data",
    )
    moment.advance(hours=2)
    supervisor.call("POST", f"/api/v1/complaints/{c['id']}/accept", json={"note": "投诉材料齐全，予以受理。"})
    moment.advance(minutes=40)
    org = tenderee.call("GET", "/api/v1/me")["organisation_id"]
    supervisor.call(
        "POST",
        f"/api/v1/complaints/{c['id']}/ask",
        expect=201,
        json={"org": org, "question": "请说明两家投标人投标文件的编制情况，并提供开标时的投标文件原件信息。"},
    )
    moment.advance(hours=16)
    asked = tenderee.call("GET", "/api/v1/complaint-statements")["items"][0]["id"]
    tenderee.call(
        "POST",
        f"/api/v1/complaint-statements/{asked}/answer",
        json={"text": "经核对，两家投标文件均由投标人自行编制上传；招标人已将开标记录和投标文件摘要提交监督部门。"},
    )
    return [
        f"{code} 第1标段有一件投诉（{c['number']}）：投标人 {complainant.username} 投诉涉嫌串通投标，监督部门已受理、"
        f"招标人已书面说明，处理决定待作出（supervisor 在“投诉处理”中作出决定）"
    ]


def statistics_history(app: Flask) -> int:
    """A year of generated trading statistics (marked as generated wherever shown; not in the trail)."""
    with app.extensions["ggzy.db"].session() as s:
        made = generate_history(s, months=12, now=clock.now())
        s.commit()
    return made
