"""The evaluation report: generated once every flag is settled, signed by every expert (or with a
written dissent), and sent back by staff (评标回退) for a new round.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from signing.certs import TrustStore
from signing.statements import (
    evaluation_report_statement,
    sign_statement,
)
from trading.accounts.models import Role, User
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.core.platform_keys import PlatformKeys
from trading.core.services import Services
from trading.evaluation import credit_review, hooks
from trading.evaluation import report as rep
from trading.evaluation.lifecycle import move_evaluation, require_state
from trading.evaluation.models import (
    EvalState,
    Evaluation,
    ReportSignature,
    ScoreSheet,
)
from trading.evaluation.room import leader_or_staff, my_seat, seats
from trading.evaluation.scores import open_flags, run_checks, sheets
from trading.pki.operations import check_signature, registered_signing_cert


# ---------------------------------------------------------------- report and signatures
def flags_refusal(session: Session, ev: Evaluation) -> Conflict | None:
    """Why the report must wait for the committee (a flag neither fixed nor resolved), or None."""
    still = open_flags(session, ev)
    if still:
        return Conflict(
            f"尚有 {len(still)} 项评审提示未处理（须修正评分或记录理由）后才能生成评标报告", code="flags_open"
        )
    # a later stage's finding that arrived after the compliance review (signals computed late) is
    # considered before the report, too
    return next((r for r in hooks.compliance_refusal(session, ev) if r is not None), None)


def publicity_refusal(ev: Evaluation) -> Conflict | None:
    """Why the report has no candidates to publicise (every bid was rejected), or None: the
    publicity (next stage) raises it, the room shows it beside a disabled button."""
    if ev.report is None or ev.report_statement is None:
        return Conflict("全部投标已被否决，本标段没有中标候选人", code="no_candidates")
    return None


def generate_report(session: Session, user: User, ev: Evaluation, services: Services) -> dict[str, Any]:
    """Checks again (under the room's lock: a score revised since the last run is seen); with
    every flag resolved or gone, the report is built, stored and put to the committee for signature."""
    require_state(ev, EvalState.SCORING)
    actor = leader_or_staff(session, user, ev)
    run_checks(session, user, ev, record_unchanged=False)
    refusal = flags_refusal(session, ev)
    if refusal is not None:
        raise refusal
    report = rep.build_report(session, ev)
    stored = rep.store_report(services, report)
    ev.report, ev.report_sm3, ev.report_pdf_key = report, stored["json_sm3"], stored["pdf_key"]
    move_evaluation(session, actor, ev, EvalState.SIGNING, report_sm3=ev.report_sm3, pdf_sm3=stored["pdf_sm3"])
    return report


def sign_report(
    session: Session, user: User, ev: Evaluation, signature: str, dissent: str, trust: TrustStore, services: Services
) -> ReportSignature:
    require_state(ev, EvalState.SIGNING)
    seat = my_seat(session, user, ev)
    seat.require_pledged("签署评标报告")
    assert ev.report_sm3 is not None
    dissent = (dissent or "").strip()
    if dissent and not 5 <= len(dissent) <= 5000:
        raise InvalidInput("不同意见应写明理由（5–5000 字）", fields={"dissent": "5–5000 字"})
    done = session.scalar(
        select(ReportSignature.id).where(
            ReportSignature.evaluation_id == ev.id,
            ReportSignature.round == ev.round,
            ReportSignature.expert_id == seat.expert_id,
        )
    )
    if done is not None:
        raise Conflict("您已签署本轮评标报告", code="already_signed")
    cert = registered_signing_cert(session, user, trust)
    message = evaluation_report_statement(ev.id, ev.round, seat.expert_id, ev.report_sm3, dissent)
    check_signature(cert, message, signature, "评标报告")
    sig = ReportSignature(
        evaluation_id=ev.id,
        round=ev.round,
        expert_id=seat.expert_id,
        report_sm3=ev.report_sm3,
        agree=not dissent,
        dissent=dissent or None,
        signature=signature,
        signed_at=clock.now(),
    )
    session.add(sig)
    session.flush()
    record_event(
        session,
        user,
        "evaluation.report_sign",
        ev,
        {"expert": seat.expert_id, "report_sm3": ev.report_sm3, "agree": sig.agree, "fingerprint": cert.fingerprint},
    )
    signed = signatures(session, ev)
    if len(signed) == len(seats(session, ev)):
        body = {
            "evaluation": ev.id,
            "round": ev.round,
            "report_sm3": ev.report_sm3,
            "signatures": [
                {"expert": s.expert_id, "agree": s.agree, "dissent": s.dissent, "signature": s.signature}
                for s in signed
            ],
        }
        st = sign_statement(
            "evaluation_report", body, key=services.keys.sign_key, cert=services.keys.sign_cert, now=clock.now()
        )
        ev.report_statement = st.to_json().decode()
        ev.reported_at, ev.publicity_late_at = clock.now(), None
        move_evaluation(
            session, SYSTEM, ev, EvalState.REPORTED, report_sm3=ev.report_sm3, dissents=sum(not s.agree for s in signed)
        )
    return sig


def signatures(session: Session, ev: Evaluation) -> list[ReportSignature]:
    q = select(ReportSignature).where(ReportSignature.evaluation_id == ev.id, ReportSignature.round == ev.round)
    return list(session.scalars(q.order_by(ReportSignature.id)))


def send_back(
    session: Session, staff: User, ev: Evaluation, reason: str, to: str = "scoring", *, keys: PlatformKeys
) -> None:
    """评标回退: staff return a report not yet publicised (a calculation error, a missed rule…).
    A new round starts; the compliance result is kept when going back to scoring, and every
    expert's sheets are carried over to be revised, never silently changed. Back to the compliance
    review, the bidders' credit is checked again (the review's new round is a new evaluation time)."""
    if Role.STAFF not in staff.roles:
        raise Forbidden("只有交易中心工作人员可以退回评标")
    require_state(ev, EvalState.SIGNING, EvalState.REPORTED)
    if ev.compliance and not any(r["passed"] for r in ev.compliance.values()):
        raise Conflict("全部投标已被否决，不能回退", code="wrong_state")
    reason = (reason or "").strip()
    if not 5 <= len(reason) <= 2000:
        raise InvalidInput("请写明退回理由（5–2000 字）", fields={"reason": "5–2000 字"})
    if to not in ("scoring", "compliance"):
        raise InvalidInput("退回到 scoring（详细评审）或 compliance（资格/符合性审查）", fields={"to": "阶段"})
    old = ev.round
    carried = sheets(session, ev) if to == "scoring" else []
    ev.history = [
        *ev.history,
        {"round": old, "reason": reason, "report_sm3": ev.report_sm3, "at": clock.now().isoformat()},
    ]
    ev.round = old + 1
    ev.report = ev.report_sm3 = ev.report_pdf_key = ev.report_statement = None
    ev.reported_at = ev.publicity_late_at = None
    if to == "compliance":
        ev.compliance = None
    for s in carried:
        session.add(
            ScoreSheet(
                evaluation_id=ev.id,
                round=ev.round,
                expert_id=s.expert_id,
                bidder_id=s.bidder_id,
                scores=dict(s.scores),
                declared_total=s.declared_total,
                submitted_at=s.submitted_at,
            )
        )
    move_evaluation(
        session,
        staff,
        ev,
        EvalState.SCORING if to == "scoring" else EvalState.COMPLIANCE,
        reason=reason,
        round=ev.round,
    )
    if to == "compliance":
        credit_review.check_bidders(session, keys, staff, ev)
