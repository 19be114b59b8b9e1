"""The evaluation room as its routes answer it (the API's and the room page's): the room's state
for its viewer (``room_json``), what its next step is, and the room actions themselves (``act``),
shared by ``room_api``, ``room_verbs``, ``room_aliases`` and ``room_pages``."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, send_file
from sqlalchemy import select

from archive.db import locked
from trading.accounts import web
from trading.accounts.models import Role, User
from trading.accounts.regions import region_name
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.services import services
from trading.evaluation import committee, compliance, copies, credit_review, hooks, room, scores, scoring, signoff
from trading.evaluation.models import FLAG_LABELS, Clarification, ComplianceVote, EvalState, Evaluation, Expert, Seat
from trading.evaluation.report import METHOD_TEXT
from trading.evaluation.schemas import (
    AskIn,
    ComplianceIn,
    LeaderIn,
    ReasonIn,
    ReportSignIn,
    ScoresIn,
    SendBackIn,
    SignatureIn,
)
from trading.opening.display import credit_code_of, org_name
from trading.pki.trust import trust


def load_evaluation(evaluation_id: int, *, for_update: bool = False) -> Evaluation:
    q = select(Evaluation).where(Evaluation.id == evaluation_id)
    ev = web.db().scalar(locked(q) if for_update else q)
    if ev is None:
        raise NotFound("评标不存在")
    return ev


def viewer(ev: Evaluation, user: User) -> Seat | None:
    """Staff and supervisors (None: the whole room; supervisors watch it without acting, since
    every act asks for a seat or staff), or a member of this committee (recused members keep their
    view of the sign-in)."""
    if Role.STAFF in user.roles or Role.SUPERVISOR in user.roles:
        return None
    try:
        return room.my_seat(web.db(), user, ev, recused_too=True)
    except NotFound:  # not an expert of the pool at all
        raise Forbidden("您不是本标段评标委员会成员", code="not_in_committee") from None


def room_json(ev: Evaluation, user: User) -> dict[str, Any]:
    db = web.db()
    seat = viewer(ev, user)
    lot, tender = room.lot_and_tender(db, ev)
    everyone = room.seats(db, ev, present=False)
    experts = {e.id: e for e in db.scalars(select(Expert).where(Expert.id.in_([s.expert_id for s in everyone])))}
    bids = room.bidders(db, ev)
    credit = credit_review.latest_checks(db, ev)
    every = scores.sheets(db, ev)
    if seat is not None and seat.recused_at is not None:
        rows, sees_scores = [], False  # it left before any bid was shown
    else:
        rows = scores.visible_sheets(db, user, ev, every) if seat is not None else every
        sees_scores = seat is not None or ev.state is not EvalState.SCORING
    out: dict[str, Any] = {
        "id": ev.id,
        "tender": tender.code,
        "title": tender.title,
        "lot": lot.number,
        "lot_name": lot.name,
        "method": lot.evaluation_method.value,
        "method_label": METHOD_TEXT[lot.evaluation_method.value],
        "criteria": lot.criteria,
        "state": ev.state.value,
        "state_label": ev.state.label,
        "next_stages": next_stages(ev),  # what POST …/stages/{stage} accepts now
        "round": ev.round,
        "z_limit": ev.z_limit,
        "leader": ev.leader_expert_id,
        "me": seat.expert_id if seat else None,
        "seats": [
            {
                "expert": s.expert_id,
                "name": experts[s.expert_id].name,
                "region": experts[s.expert_id].region,
                "region_label": region_name(experts[s.expert_id].region),
                "signed_in": s.signed_in_at is not None,
                "pledged": s.pledged_at is not None,
                "recused": s.recused_at is not None,
                "recusal_reason": s.recusal_reason,
                "representative": s.representative,
                "votes": sum(1 for x in everyone if x.leader_vote == s.expert_id and x.recused_at is None),
            }
            for s in everyone
        ],
        "committee": {
            "size": room.seats_required(db, lot),
            "representatives": lot.representative_seats,
            "leader_from_experts": tender.category.government_procurement,  # 财库〔2012〕69号
        },
        # later stages' findings (collusion signals), with the committee's record of considering them
        "findings": [panel for panels in hooks.room_findings(db, ev, user) for panel in panels],
        "bidders": [
            {
                "id": b.id,  # the seat's id, as opening_seat (kept: the room page reads it)
                "opening_seat": b.id,
                "name": org_name(db, b.org_id),
                "credit_code": credit_code_of(db, b.org_id),  # names are not unique: the chart tells two apart
                "price": (b.price_sheet or {}).get("price"),
                "compliance": (ev.compliance or {}).get(str(b.id)),
                # the check made when the compliance review started: the review must address a finding
                "credit": credit_review.credit_json(credit.get(b.id)),
            }
            for b in bids
        ],
        "sheets": [
            {
                "expert": r.expert_id,
                "opening_seat": r.bidder_id,
                "bidder": r.bidder_id,  # deprecated name of opening_seat
                "scores": r.scores,
                "total": str(r.declared_total),
                "factor_total": str(scoring.factor_total(sheet)),
                "submitted_at": r.submitted_at.isoformat(),
            }
            for r, sheet in zip(rows, scores.as_rule_sheets(rows), strict=True)
        ]
        if sees_scores
        else [],
        "submitted": sorted({r.expert_id for r in every}),
        "flags": [
            {
                "id": f.id,
                "kind": f.kind,
                "kind_label": FLAG_LABELS.get(f.kind, f.kind),
                "expert": f.expert_id,
                "opening_seat": f.bidder_id,
                "bidder": f.bidder_id,  # deprecated name of opening_seat
                "factor": f.factor,
                "detail": f.detail,
                "cleared": f.cleared_at is not None,
                "resolution": f.resolution,
            }
            for f in scores.flags(db, ev)
        ],
        "clarifications": [
            {
                "id": c.id,
                "opening_seat": c.bidder_id,
                "bidder": c.bidder_id,  # deprecated name of opening_seat
                "question": c.question,
                "deadline": c.deadline.isoformat(),
                "answer": c.answer,
            }
            for c in db.scalars(select(Clarification).where(Clarification.evaluation_id == ev.id))
        ],
        "report_sm3": ev.report_sm3,
        "report": ev.report,
        "signed": [s.expert_id for s in signoff.signatures(db, ev)],
        "history": ev.history,
        "publicity_ends_at": ev.publicity_ends_at.isoformat() if ev.publicity_ends_at else None,
        "publicity_due_at": due.isoformat() if (due := ev.publicity_due()) else None,
    }
    out["blocked"] = blocked(ev)
    if seat is not None and seat.recused_at is None:
        out["statements"] = committee.statements_for(db, ev, seat.expert_id)
        if ev.state is EvalState.COMPLIANCE:
            mine = db.scalars(
                select(ComplianceVote).where(
                    ComplianceVote.evaluation_id == ev.id,
                    ComplianceVote.round == ev.round,
                    ComplianceVote.expert_id == seat.expert_id,
                )
            )
            out["my_votes"] = {str(v.bidder_id): v.passed for v in mine}
    return out


def blocked(ev: Evaluation) -> dict[str, str | None]:
    """Why each of the room's next steps would be refused now (None: it would not), from the rules
    the operations raise: the room shows the step's button disabled with this reason."""
    db = web.db()
    refusal: dict[str, Conflict | None] = {}
    if ev.state is EvalState.SIGN_IN:
        refusal["advance"] = committee.review_refusal(db, ev)
    elif ev.state is EvalState.COMPLIANCE:
        refusal["advance"] = compliance.votes_refusal(db, ev)
    elif ev.state is EvalState.SCORING:
        refusal["checks"] = scores.scores_refusal(db, ev)
        refusal["advance"] = refusal["checks"] or signoff.flags_refusal(db, ev)
    elif ev.state is EvalState.REPORTED:
        refusal["publicity"] = signoff.publicity_refusal(ev)
    return {k: None if v is None else v.message for k, v in refusal.items()}


#: The stage the room's next step enters from each state, and the operation that takes it there
#: (its own rules refuse it when the step is not done: votes missing, flags open…). From the
#: compliance review the committee asks for ``scoring``; when every bid is rejected the rules end
#: the evaluation at ``reported`` instead (Reg 51), and the response says so.
NEXT_STAGE: dict[EvalState, EvalState] = {
    EvalState.SIGN_IN: EvalState.COMPLIANCE,
    EvalState.COMPLIANCE: EvalState.SCORING,
    EvalState.SCORING: EvalState.SIGNING,
}


def next_stages(ev: Evaluation) -> list[str]:
    """What ``POST /evaluations/{id}/stages/{stage}`` accepts now. The report's signatures move
    it on by themselves; the publicity (``POST …/publicity``) and ``send-back`` have their routes."""
    return [NEXT_STAGE[ev.state].value] if ev.state in NEXT_STAGE else []


def enter(ev: Evaluation, to: EvalState) -> Evaluation:
    """Take the room's next step into ``to`` (not committed): the evaluation, read again if the
    step had to commit on the way."""
    db, user = web.db(), web.require_user()
    if to is EvalState.COMPLIANCE:
        committee.start_review(db, user, ev, keys=services(current_app).keys)
    elif to is EvalState.SCORING:
        compliance.close_compliance(db, user, ev)
    else:
        # the findings are kept even when the report is refused for them
        scores.run_checks(db, user, ev)
        web.commit_and_reread()  # the report is built from the sheets as they are under the lock
        ev = load_evaluation(ev.id, for_update=True)
        signoff.generate_report(db, user, ev, services(current_app))
    return ev


def act(evaluation_id: int, action: str) -> Response:
    """One room action, for the API and the room page alike."""
    db, user = web.db(), web.require_user()
    ev = load_evaluation(evaluation_id, for_update=True)
    svc = services(current_app)
    result: dict[str, Any] = {}
    if action in ("sign-in", "signin"):
        committee.sign_in(db, user, ev, web.json_body(SignatureIn).signature, trust())
    elif action == "pledge":
        committee.pledge(db, user, ev, web.json_body(SignatureIn).signature, trust())
    elif action == "recuse":
        committee.recuse(db, user, ev, web.json_body(ReasonIn).reason)
    elif action == "leader":
        committee.vote_leader(db, user, ev, web.json_body(LeaderIn).candidate)
    elif action == "compliance":
        c = web.json_body(ComplianceIn)
        compliance.vote_compliance(db, user, ev, c.opening_seat, c.passed, c.failed_items, c.reason)
    elif action == "scores":
        s = web.json_body(ScoresIn)
        scores.submit_scores(db, user, ev, s.opening_seat, dict(s.scores), s.total)
    elif action == "checks":
        # the count under its own name: ``flags`` stays the room's list (the page renders it)
        result["flags_found"] = len(scores.run_checks(db, user, ev))
    elif action == "clarify":
        a = web.json_body(AskIn)
        result["clarification"] = compliance.ask(db, user, ev, a.opening_seat, a.question, a.hours).id
    elif action == "advance":
        if ev.state not in NEXT_STAGE:
            raise InvalidInput(f"“{ev.state.label}”阶段没有下一步可推进", code="wrong_state")
        ev = enter(ev, NEXT_STAGE[ev.state])
    elif action == "sign":
        r = web.json_body(ReportSignIn)
        signoff.sign_report(db, user, ev, r.signature, r.dissent, trust(), svc)
    elif action == "send-back":
        b = web.json_body(SendBackIn)
        signoff.send_back(db, user, ev, b.reason, b.to, keys=svc.keys)
    else:
        raise NotFound("未知操作")
    web.commit()
    return jsonify(room_json(ev, user) | result)


def bid_copy_response(evaluation_id: int, opening_seat: int) -> Response:
    """A watermarked copy of the bid decrypted at ``opening_seat`` (the bidder's seat in the
    opening: ``bidders[].opening_seat`` of the room), each download numbered and logged."""
    ev = load_evaluation(evaluation_id)
    copy = copies.bid_copy(web.db(), web.require_user(), ev, opening_seat, services(current_app))
    try:
        web.commit()
    except BaseException:
        copy.file.close()
        raise
    response = send_file(copy.file, mimetype="application/zip", as_attachment=True, download_name=copy.name)
    response.content_length = copy.size
    return response
