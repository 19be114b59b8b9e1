"""The committee's record of how it considered a lot's collusion signals (connected to the
evaluation room by ``trading.app.connect_stages``).

The signals go before the committee as a panel of the room (``room_findings``); while the lot's
computed signals are not considered in the evaluation's current round, the compliance review may
not close (``compliance_refusal``, 409 ``signals_not_considered``), and signals computed after it
closed (a bid that made them slow) hold the report the same way. While the lot is opened and its
signals are not computed yet the panel says so: an empty panel would read as "nothing found". The
committee leader (组长) records the consideration once per round (``record_review``): it is the
committee's record, so staff cannot write it for them; the committee weighs the evidence, a signal
is never a verdict (实施条例第四十条 names what the committee may find).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from trading.accounts.models import User
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.evaluation.models import EvalState, Evaluation
from trading.evaluation.room import my_seat
from trading.opening.display import org_name
from trading.opening.models import CeremonyBidder
from trading.signals.models import Signal, SignalKind, SignalReview, SignalRun
from trading.signals.runs import computed_run, opened_ceremony, run_of, signals_of
from trading.tenders.models import Lot

REVIEW_MIN, REVIEW_MAX = 10, 2000
#: The rounds in which the committee may still record its consideration (before the report is signed).
REVIEWABLE = frozenset({EvalState.SIGN_IN, EvalState.COMPLIANCE, EvalState.SCORING, EvalState.SIGNING})
PATTERN_WORDS = {
    "equal": "报价相同",
    "equal_gaps": "报价等差",
    "same_cents": "报价角分相同",
    "within": "全部报价相差不超过 0.1%",
    "sum_gap": "报价与分项金额之和的差额相同",
    "same_text": "文字内容相同",
}


def review_url(ev: Evaluation) -> str:
    return f"/api/v1/evaluations/{ev.id}/signals/review"


def review_page_url(ev: Evaluation) -> str:
    """The room page's own route for the same act (its session and CSRF token, not a bearer token)."""
    return f"/evaluations/{ev.id}/signals/review"


def review_of(session: Session, ev: Evaluation) -> SignalReview | None:
    """The committee's record for the evaluation's current round."""
    return session.scalar(
        select(SignalReview).where(SignalReview.evaluation_id == ev.id, SignalReview.round == ev.round)
    )


def bidder_names(session: Session, ids: set[int]) -> dict[int, str]:
    """Ceremony bidders' organisation names (public since the opening)."""
    seats = session.scalars(select(CeremonyBidder).where(CeremonyBidder.id.in_(ids))).all()
    return {s.id: org_name(session, s.org_id) for s in seats}


#: A PDF date as written in a document's information dictionary: D:YYYYMMDDHHmmSS+HH'mm' (any tail may be left off).
PDF_DATE = re.compile(
    r"^(?:D:)?(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:([+\-Z])(?:(\d{2})'?(?:(\d{2})'?)?)?)?$", re.ASCII
)
#: An Office document's creation time (W3CDTF): 2026-11-30T06:36:00Z or with an offset.
W3C_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(?:(Z)|([+\-])(\d{2}):(\d{2}))?$"
)

Part = dict[str, str]


def text(s: object) -> Part:
    return {"text": str(s)}


def code(s: object) -> Part:
    """A value as stored (a file name, a tool, an address): shown as code, not as prose."""
    return {"code": str(s)}


def document_time(raw: str) -> str:
    """A document's creation time as people read it: "2026-11-30 06:36:00（UTC+08:00）". The raw
    value stays in the signal's evidence; one not in a known form is shown as written."""
    m = PDF_DATE.match(raw)
    if m and m.group(5):  # to the minute at least: a shorter one is shown as written, not padded
        y, mo, d, h, mi, sec, sign, oh, om = m.groups()
        zone = "" if sign is None else "（UTC）" if sign == "Z" or not oh else f"（UTC{sign}{oh}:{om or '00'}）"
        return f"{y}-{mo}-{d} {h}:{mi}{':' + sec if sec else ''}{zone}"
    m = W3C_DATE.match(raw)
    if m:
        y, mo, d, h, mi, sec, z, sign, oh, om = m.groups()
        zone = "（UTC）" if z else f"（UTC{sign}{oh}:{om}）" if sign else ""
        return f"{y}-{mo}-{d} {h}:{mi}{':' + sec if sec else ''}{zone}"
    return raw


def listed(values: list[str]) -> list[Part]:
    """Values as code, separated by 、."""
    out: list[Part] = []
    for n, v in enumerate(values):
        out += [text("、")] if n else []
        out.append(code(v))
    return out


def describe_parts(kind: SignalKind, evidence: dict[str, Any]) -> list[Part]:
    """A signal's evidence in words, values as stored marked as code (the pages and the room show
    them so); ``describe`` joins them."""
    e = evidence
    if kind is SignalKind.SAME_ADDRESS:
        return [text("网络地址 "), code(e.get("address"))]
    if kind is SignalKind.SAME_INSTALL:
        return [text("投标工具安装标识 "), code(f"{str(e.get('install_id'))[:16]}…")]
    if kind is SignalKind.SAME_FILE:
        files = e.get("files") or []
        names = sorted({n for f in files for ns in f.get("names", {}).values() for n in ns})[:5]
        return [text(f"{e.get('count')} 个相同文件（SM3 一致），如："), *listed(names)]
    if kind is SignalKind.SAME_METADATA:
        value = str(e.get("value"))
        shown = text(document_time(value)) if e.get("field") == "created" else text(value)
        tools = [text("；创建工具 "), *listed(list(e["tools"]))] if e.get("tools") else []
        return [text(f"文档{e.get('label')}均为“"), shown, text("”"), *tools]
    return [text(describe_words(kind, e))]


def describe(kind: SignalKind, evidence: dict[str, Any]) -> str:
    """A signal's evidence in words, for the room, the pages and the CLI."""
    return "".join(v for p in describe_parts(kind, evidence) for v in p.values())


def describe_words(kind: SignalKind, e: dict[str, Any]) -> str:
    if kind is SignalKind.PRICE_PATTERN:
        words = PATTERN_WORDS.get(str(e.get("pattern")), str(e.get("pattern")))
        if e.get("pattern") == "equal":
            return f"{words}：{e.get('price')} 元"
        if e.get("pattern") == "equal_gaps":
            return f"{words}：{'、'.join(e.get('prices') or [])}（差额 {e.get('gap')} 元）"
        if e.get("pattern") == "same_cents":
            return f"{words}：.{e.get('cents')}"
        return f"{words}：均价 {e.get('mean')} 元，最大偏差 {e.get('max_deviation')} 元"
    if kind is SignalKind.SAME_SHEET_ERROR:
        words = PATTERN_WORDS.get(str(e.get("pattern")), str(e.get("pattern")))
        if e.get("pattern") == "sum_gap":
            return f"开标一览表{words}：{e.get('gap')} 元"
        return f"开标一览表“{e.get('label')}”{words}：{e.get('value')}"
    if e.get("field") == "legal_representative":
        return f"法定代表人相同：{e.get('value')}"
    same = f"（联系人同为 {e.get('name')}）" if e.get("same_name") else ""
    return f"报名联系电话相同：{e.get('value')}{same}"


def signal_rows(session: Session, signals: list[Signal]) -> list[dict[str, Any]]:
    """Each signal with its bidders named and its evidence in words (and as stored)."""
    names = bidder_names(session, {i for s in signals for i in s.bidder_ids})
    return [
        {
            "id": s.id,
            "kind": s.kind.value,
            "label": s.kind.label,
            "bidder_ids": list(s.bidder_ids),
            "bidders": [names.get(i, str(i)) for i in s.bidder_ids],
            "detail": describe(s.kind, s.evidence),
            "evidence": s.evidence,
        }
        for s in signals
    ]


def room_findings(session: Session, ev: Evaluation, user: User) -> list[dict[str, Any]]:
    """The lot's signals as a panel of the room (none until they are computed)."""
    run = run_of(session, ev.lot_id)
    if run is None:
        lot = session.get(Lot, ev.lot_id)
        if lot is None or opened_ceremony(session, lot) is None:
            return []
        pending = "开标解密后的串标迹象尚在计算中：计算完成后本栏列出，评标报告生成前须记录研判意见"
        return [
            {
                "kind": "collusion_signals",
                "title": "串标迹象（计算中）",
                "items": [],
                "pending": pending,
                "review": None,
            }
        ]
    rows = signal_rows(session, signals_of(session, run))
    review = review_of(session, ev)
    return [
        {
            "kind": "collusion_signals",
            "title": "串标迹象（供评标委员会研判，不是结论）",
            "items": [
                {
                    "label": r["label"],
                    "bidders": r["bidders"],
                    "detail": r["detail"],
                    "detail_parts": describe_parts(SignalKind(r["kind"]), r["evidence"]),
                }
                for r in rows
            ],
            "review": {
                "required": bool(rows),
                "done": review is not None,
                "text": review.text if review else "",
                "url": review_url(ev),
                "page_url": review_page_url(ev),
            },
        }
    ]


def compliance_refusal(session: Session, ev: Evaluation) -> Conflict | None:
    """Refuses closing the compliance review while the lot's signals are not considered."""
    run = run_of(session, ev.lot_id)
    if run is None or not signals_of(session, run) or review_of(session, ev) is not None:
        return None
    return Conflict(
        "评标委员会尚未记录对本标段串标迹象的研判意见，请组长先记录后再结束审查", code="signals_not_considered"
    )


def record_review(session: Session, user: User, ev: Evaluation, text: str) -> SignalReview:
    """The leader's record of how the committee considered the signals, once per round."""
    seat = my_seat(session, user, ev)
    if seat.expert_id != ev.leader_expert_id:
        raise Forbidden("研判意见是评标委员会的意见，由组长记录", code="not_leader")
    seat.require_pledged()
    actor = user
    lot = session.get(Lot, ev.lot_id)
    assert lot is not None
    run: SignalRun = computed_run(session, lot)
    text = text.strip()
    if not REVIEW_MIN <= len(text) <= REVIEW_MAX:
        raise InvalidInput(
            f"研判意见应为 {REVIEW_MIN}–{REVIEW_MAX} 个字", fields={"text": f"{REVIEW_MIN}–{REVIEW_MAX} 个字"}
        )
    if ev.state not in REVIEWABLE:
        raise Conflict(f"评标当前为“{ev.state.label}”，不能再记录研判意见", code="wrong_state")
    if review_of(session, ev) is not None:
        raise Conflict("本轮评审已记录串标迹象研判意见", code="signals_already_reviewed")
    review = SignalReview(
        evaluation_id=ev.id, round=ev.round, run_id=run.id, text=text, user_id=user.id, at=clock.now()
    )
    session.add(review)
    session.flush()
    record_event(
        session,
        actor,
        "signals.reviewed",
        review,
        {"evaluation": ev.id, "round": ev.round, "run": run.id, "statement_sm3": run.statement_sm3, "text": text},
    )
    return review
