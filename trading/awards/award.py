"""After the report: candidate publicity (中标候选人公示), objections, the award (定标), the result
announcement, the award notice (中标通知书) and the contract.

- Staff publish the publicity, drafted from the signed report, for the procedure's
  ``publicity_days`` (Reg 54: at least 3 days).
- A bidder of the lot may object while it runs; the lot waits (the publicity clock stops) until
  the tenderee answers, which it must within 3 days (Reg 54). The pause is added to the end.
- Once publicity has ended with nothing unanswered, the tenderee confirms the winner: the first
  candidate, or another candidate with a written reason (Reg 55: the first gave up, could not
  perform, or was found ineligible). The platform publishes the result announcement, signs the
  award notice, marks the lot awarded and asks for a checkpoint so the final archive package can
  be built over a signed log.
- The tenderee records the contract (Reg 57); the winner's guarantee is then released by the
  scheduler's sweep, as the losers' are after the award.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from archive.db import locked
from archive.transparency import request_checkpoint
from signing.statements import sign_statement
from trading.accounts.models import Organisation, Role, User
from trading.bids.models import Bid
from trading.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from trading.core.formats import amount_in_words, local_time, money
from trading.core.scheduler import each_attempted
from trading.core.services import Services
from trading.evaluation import report as rep
from trading.evaluation import room
from trading.evaluation.lifecycle import move_evaluation, require_state
from trading.evaluation.models import PUBLICITY_DUE_DAYS, EvalState, Evaluation, PublicityObjection
from trading.evaluation.signoff import publicity_refusal
from trading.opening.display import credit_code_of, org_name
from trading.opening.models import CeremonyBidder
from trading.procedures.calendar import period_end
from trading.procedures.models import DayKind
from trading.procedures.operations import get_procedure, overrides
from trading.tenders import notifications
from trading.tenders.lifecycle import move_lot
from trading.tenders.models import Announcement, AnnouncementKind, Lot, LotState, Tender
from trading.tenders.publishing import publish_now

ANSWER_DAYS = 3  # Reg 54: objections answered within 3 days


def _require_tenderee(tender: Tender, user: User) -> None:
    if not tender.can_manage(user):
        raise Forbidden("只有本项目的招标人或招标代理机构可以进行此操作")


def publicity_body(report: dict[str, Any], days: int) -> str:
    lines = [
        f"{report['title']}（项目编号 {report['tender']}）第{report['lot']}标段“{report['lot_name']}”评标工作已经结束，"
        f"根据评标委员会的评标报告，现将中标候选人公示如下，公示期不少于 {days} 日：",
    ]
    for c in report["candidates"]:
        lines.append(f"第 {c['rank']} 名：{c['bidder']}，投标报价 {money(c['price'])} 元")
    lines.append(
        "投标人或者其他利害关系人对评标结果有异议的，应当在公示期内通过本平台提出；招标人自收到异议之日起 3 日内答复，"
        "答复前暂停招标投标活动（《招标投标法实施条例》第五十四条）。"
    )
    return "\n".join(lines)


def start_publicity(session: Session, staff: User, ev: Evaluation) -> Announcement:
    if Role.STAFF not in staff.roles:
        raise Forbidden("只有交易中心工作人员可以发布中标候选人公示")
    require_state(ev, EvalState.REPORTED)
    refusal = publicity_refusal(ev)
    if refusal is not None:
        raise refusal
    assert ev.report is not None
    lot, tender = room.lot_and_tender(session, ev)
    if lot.suspended_at is not None:
        raise Conflict("行政监督部门处理投诉期间，本标段暂停招标投标活动，不能发布公示", code="lot_suspended")
    days = get_procedure(session, tender.procedure_code).publicity_days
    due = ev.publicity_due()
    ann = publish_now(
        session,
        tender,
        AnnouncementKind.CANDIDATES,
        f"{tender.title} 第{lot.number}标段 中标候选人公示",
        publicity_body(ev.report, days),
        staff,
    )
    assert ann.published_at is not None
    ev.publicity_announcement_id, ev.publicity_ends_at = ann.id, ann.published_at + dt.timedelta(days=days)
    move_evaluation(
        session,
        staff,
        ev,
        EvalState.PUBLICITY,
        announcement=ann.id,
        ends_at=ev.publicity_ends_at.isoformat(),
        late=due is not None and ann.published_at > due,
    )
    ends = local_time(ev.publicity_ends_at, seconds=False)
    move_lot(session, staff, lot, LotState.PUBLICITY, reason=f"公示期至{ends}", now=ann.published_at)
    return ann


def objections(session: Session, ev: Evaluation) -> list[PublicityObjection]:
    q = select(PublicityObjection).where(PublicityObjection.evaluation_id == ev.id).order_by(PublicityObjection.id)
    return list(session.scalars(q))


def objection_refusal(session: Session, user: User | None, ev: Evaluation, now: dt.datetime) -> DomainError | None:
    """Why ``user`` cannot object now (None: it can): only a bidder of the lot, only while the
    publicity runs (or stands still for an unanswered objection). The page shows it."""
    if ev.state is not EvalState.PUBLICITY:
        return Conflict(f"评标当前处于“{ev.state.label}”阶段，不能提出异议", code="wrong_state")
    assert ev.publicity_ends_at is not None
    if ev.suspended_at is None and now >= ev.publicity_ends_at:
        return Conflict("公示期已结束，不能再提出异议", code="too_late")
    if user is None or user.organisation_id not in {b.org_id for b in room.bidders(session, ev)}:
        return Forbidden("只有本标段的投标人可以通过平台提出异议", code="not_a_bidder")
    return None


def object_to(session: Session, user: User, ev: Evaluation, text: str) -> PublicityObjection:
    require_state(ev, EvalState.PUBLICITY)
    now = clock.now()
    refusal = objection_refusal(session, user, ev, now)
    if refusal is not None:
        raise refusal
    text = (text or "").strip()
    if not 10 <= len(text) <= 5000:
        raise InvalidInput("异议应写明事实和理由（10–5000 字）", fields={"text": "10–5000 字"})
    assert user.organisation_id is not None
    o = PublicityObjection(
        evaluation_id=ev.id,
        org_id=user.organisation_id,
        user_id=user.id,
        text=text,
        created_at=now,
        # 3 days, the day raised not counted, to 24:00 (民法典第二百零一条、第二百零三条): the supervision clock's count
        answer_due=period_end(now, ANSWER_DAYS, DayKind.CALENDAR, overrides(session)),
    )
    session.add(o)
    session.flush()
    if ev.suspended_at is None:
        ev.suspended_at = now
    record_event(
        session, user, "evaluation.objection", o, {"evaluation": ev.id, "answer_due": o.answer_due.isoformat()}
    )
    return o


def report_overdue(session: Session, now: dt.datetime) -> int:
    """Each objection past its answer date and still unanswered: an audit event, and a notice to the
    tenderee (and its agency) that the lot stays suspended until it answers. Once per objection,
    each in a transaction of its own (``each_apart``): one that cannot be reported (an unreadable
    row) holds up no other; its failure is the audit event ``evaluation.objection_overdue_failed``,
    retried with a pause up to a cap."""
    late = session.scalars(
        select(PublicityObjection.id)
        .where(
            PublicityObjection.answer.is_(None),
            PublicityObjection.overdue_at.is_(None),
            PublicityObjection.answer_due < now,
        )
        .order_by(PublicityObjection.id)
    ).all()
    return each_attempted(
        session,
        late,
        now,
        "objections_overdue",
        "evaluation.objection_overdue_failed",
        lambda oid: ("evaluation_objection", str(oid)),
        lambda oid: _report_overdue_one(session, oid, now),
    )


def _report_overdue_one(session: Session, objection_id: int, now: dt.datetime) -> bool:
    o = session.scalar(
        locked(select(PublicityObjection).where(PublicityObjection.id == objection_id), skip_locked=True)
    )
    if o is None or o.answer is not None or o.overdue_at is not None:
        return False  # answered (or reported) since the sweep read it, or a request holds it
    ev = session.get(Evaluation, o.evaluation_id)
    assert ev is not None
    lot, tender = room.lot_and_tender(session, ev)
    o.overdue_at = now
    notifications.notify_managers(
        session,
        tender,
        f"第{lot.number}标段中标候选人公示期间的异议已超过 3 日未答复（《招标投标法实施条例》第五十四条），"
        "招标投标活动暂停中，请尽快答复",
    )
    record_event(
        session, SYSTEM, "evaluation.objection_overdue", o, {"evaluation": ev.id, "due": o.answer_due.isoformat()}
    )
    return True


def report_late_publicity(session: Session, now: dt.datetime) -> int:
    """Each complete report whose candidates are still not publicised 3 days on (Reg 54): an audit
    event, and a notice to the tenderee and its agency. Once per report; publicity stays possible.
    Each in a transaction of its own (``each_apart``): one that cannot be reported holds up no
    other; its failure is the audit event ``evaluation.publicity_overdue_failed``, retried with a
    pause up to a cap."""
    waiting = session.scalars(
        select(Evaluation.id)
        .where(
            Evaluation.state == EvalState.REPORTED,
            Evaluation.report_statement.is_not(None),
            Evaluation.publicity_late_at.is_(None),
            Evaluation.reported_at < now - dt.timedelta(days=PUBLICITY_DUE_DAYS),
        )
        .order_by(Evaluation.id)
    ).all()
    return each_attempted(
        session,
        waiting,
        now,
        "publicity_overdue",
        "evaluation.publicity_overdue_failed",
        lambda eid: ("evaluation", str(eid)),
        lambda eid: _report_late_publicity_one(session, eid, now),
    )


def _report_late_publicity_one(session: Session, evaluation_id: int, now: dt.datetime) -> bool:
    ev = session.scalar(locked(select(Evaluation).where(Evaluation.id == evaluation_id), skip_locked=True))
    if ev is None or ev.state is not EvalState.REPORTED or ev.publicity_late_at is not None:
        return False  # publicised (or reported) since the sweep read it, or a request holds it
    lot, tender = room.lot_and_tender(session, ev)
    ev.publicity_late_at = now
    notifications.notify_managers(
        session,
        tender,
        f"第{lot.number}标段评标报告完成已超过 {PUBLICITY_DUE_DAYS} 日，中标候选人尚未公示"
        "（《招标投标法实施条例》第五十四条），请联系交易中心尽快发布",
    )
    due = ev.publicity_due()
    assert due is not None
    record_event(session, SYSTEM, "evaluation.publicity_overdue", ev, {"due": due.isoformat()})
    return True


def answer_objection(session: Session, user: User, ev: Evaluation, objection_id: int, text: str) -> PublicityObjection:
    _lot, tender = room.lot_and_tender(session, ev)
    _require_tenderee(tender, user)
    o = session.get(PublicityObjection, objection_id)
    if o is None or o.evaluation_id != ev.id:
        raise NotFound("异议不存在")
    if o.answer is not None:
        raise Conflict("该异议已答复", code="already_answered")
    text = (text or "").strip()
    if not 5 <= len(text) <= 5000:
        raise InvalidInput("答复应为 5–5000 字", fields={"answer": "5–5000 字"})
    now = clock.now()
    o.answer, o.answered_at, o.answered_by_user_id = text, now, user.id
    session.flush()
    payload: dict[str, Any] = {"evaluation": ev.id, "late": now > o.answer_due}
    if ev.suspended_at is not None and all(x.answer is not None for x in objections(session, ev)):
        assert ev.publicity_ends_at is not None
        paused = now - ev.suspended_at
        ev.publicity_ends_at += paused  # the publicity clock stood still while the lot waited
        ev.suspended_at = None
        payload |= {"resumed": True, "ends_at": ev.publicity_ends_at.isoformat()}
    record_event(session, user, "evaluation.objection_answer", o, payload)
    return o


def extend_for_suspension(session: Session, actor: User, lot: Lot, since: dt.datetime, now: dt.datetime) -> None:
    """The supervising department lifted the lot's suspension (实施条例第六十二条; 财政部令第94号第二十八条):
    a candidate publicity that ran meanwhile is extended by the time it stood still, so bidders keep
    the whole period to object (实施条例第五十四条), as an objection's pause does."""
    ev = session.scalar(select(Evaluation).where(Evaluation.lot_id == lot.id, Evaluation.state == EvalState.PUBLICITY))
    if ev is None or ev.publicity_ends_at is None or ev.publicity_announcement_id is None:
        return
    ann = session.get(Announcement, ev.publicity_announcement_id)
    began = max(since, ann.published_at) if ann is not None and ann.published_at is not None else since
    stood = min(now, ev.publicity_ends_at) - began
    if stood <= dt.timedelta(0):
        return
    ev.publicity_ends_at += stood
    record_event(
        session,
        actor,
        "evaluation.publicity_extend",
        ev,
        {"lot": lot.id, "seconds": int(stood.total_seconds()), "ends_at": ev.publicity_ends_at.isoformat()},
    )


def award_refusal(session: Session, ev: Evaluation, now: dt.datetime) -> Conflict | None:
    """Why the winner cannot be confirmed now (None: it can): an objection still unanswered, or
    the publicity still running, or the supervising department's suspension while it handles a
    complaint. ``award`` raises it; the publicity page shows it."""
    assert ev.publicity_ends_at is not None
    lot = session.get(Lot, ev.lot_id)
    if lot is not None and lot.suspended_at is not None:
        return Conflict("行政监督部门处理投诉期间，本标段暂停招标投标活动", code="lot_suspended")
    if ev.suspended_at is not None:
        return Conflict("尚有未答复的异议，招标投标活动暂停中", code="objection_open")
    if now < ev.publicity_ends_at:
        return Conflict(
            f"公示期至 {clock.local(ev.publicity_ends_at):%Y-%m-%d %H:%M} 结束，结束后才能确定中标人",
            code="publicity_running",
        )
    return None


def award(
    session: Session, user: User, ev: Evaluation, services: Services, winner_bidder_id: int, reason: str = ""
) -> Evaluation:
    require_state(ev, EvalState.PUBLICITY)
    lot, tender = room.lot_and_tender(session, ev)
    _require_tenderee(tender, user)
    assert ev.report is not None
    now = clock.now()
    refusal = award_refusal(session, ev, now)
    if refusal is not None:
        raise refusal
    candidates = ev.report["candidates"]
    chosen = next((c for c in candidates if c["bidder_id"] == winner_bidder_id), None)
    if chosen is None:
        raise InvalidInput("中标人应从评标委员会推荐的中标候选人中确定", fields={"winner": "中标候选人"})
    reason = (reason or "").strip()
    if chosen is not candidates[0] and not 10 <= len(reason) <= 2000:
        raise InvalidInput(
            "确定排名第一以外的候选人为中标人须写明理由（第一名放弃中标、不能履行合同或被查实不符合条件，实施条例第五十五条）",
            fields={"reason": "10–2000 字"},
        )
    winner = session.get(CeremonyBidder, winner_bidder_id)
    assert winner is not None
    bid = session.get(Bid, winner.bid_id)
    assert bid is not None
    tenderee = session.get(Organisation, tender.tenderee_org_id)
    assert tenderee is not None
    ev.winner_bidder_id, ev.award_reason, ev.awarded_at = winner.id, reason or None, now
    name = org_name(session, winner.org_id)
    result = publish_now(
        session,
        tender,
        AnnouncementKind.RESULT,
        f"{tender.title} 第{lot.number}标段 中标结果公告",
        f"{tender.title}（项目编号 {tender.code}）第{lot.number}标段“{lot.name}”经评标委员会评审、中标候选人公示，"
        f"招标人确定中标人为：{name}，中标价 {money(chosen['price'])} 元（大写：{amount_in_words(chosen['price'])}）。",
        None,
    )
    notice = {
        "type": "award_notice",
        "tender": tender.code,
        "title": tender.title,
        "lot": lot.number,
        "lot_name": lot.name,
        "winner": name,
        "winner_code": credit_code_of(session, winner.org_id),
        "price": chosen["price"],
        "tenderee": tenderee.name,
        "bid_deadline": tender.bid_deadline.isoformat(),
        # the instant the platform received the bid, as its signed receipt states it
        "submitted_at": bid.received_at.isoformat(),
        "receipt_sm3": bid.commitment,
        "issued_at": now.isoformat(),
        "report_sm3": ev.report_sm3,
        "result_announcement": result.id,
    }
    pdf = services.store.put_bytes(rep.render_notice_pdf(notice))
    st = sign_statement(
        "award_notice", notice | {"pdf_sm3": pdf.sm3}, key=services.keys.sign_key, cert=services.keys.sign_cert, now=now
    )
    ev.notice_key, ev.notice_statement = pdf.key, st.to_json().decode()
    move_lot(
        session,
        user,
        lot,
        LotState.AWARDED,
        reason=reason or None,
        now=now,
        winner_org_id=winner.org_id,
        detail={"winner": notice["winner_code"], "price": chosen["price"]},
    )
    move_evaluation(session, user, ev, EvalState.AWARDED, winner=winner.id, notice_sm3=pdf.sm3)
    request_checkpoint(session, "award", f"evaluation:{ev.id}")
    return ev


def confirm_contract(session: Session, user: User, ev: Evaluation) -> Evaluation:
    """The tenderee records that the contract is signed; the winner's bond is released next (Reg 57)."""
    require_state(ev, EvalState.AWARDED)
    lot, tender = room.lot_and_tender(session, ev)
    _require_tenderee(tender, user)
    if ev.contract_signed_at is not None:
        raise Conflict("已登记合同签订", code="already_signed")
    ev.contract_signed_at = clock.now()
    record_event(session, user, "evaluation.contract", ev, {"lot": lot.id, "winner": ev.winner_bidder_id})
    return ev


def tender_page_context(session: Session, tender: Tender) -> dict[str, Any]:
    """What the awards add to the tender page (``trading.tenders.hooks.tender_page_context``): each
    lot's evaluation once its candidates are public (publicity or awarded), for the link."""
    lots = [lot.id for lot in tender.lots]
    q = select(Evaluation).where(
        Evaluation.lot_id.in_(lots), Evaluation.state.in_([EvalState.PUBLICITY, EvalState.AWARDED])
    )
    return {"publicity": {ev.lot_id: ev for ev in session.scalars(q)}}
