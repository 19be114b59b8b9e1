"""The evaluation room over the API.

Room actions (``/evaluations/<id>/<action>``) are open to staff and experts alike
(``EVALUATION_ROOM``); the operations decide who may do what (a committee member, the leader,
staff). The room page posts the same actions with its session and CSRF token. The tenderee names
its representatives; bidders answer clarifications. What follows the report (publicity, award,
contract) belongs to the next stage, which serves the room's last action itself.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, send_file
from sqlalchemy import select

from archive.db import locked
from trading.accounts import web
from trading.accounts.models import Role, User
from trading.accounts.permissions import Permission, requires
from trading.accounts.regions import region_name
from trading.core.apispec import documented
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.services import services
from trading.evaluation import committee, compliance, copies, room, scores, scoring, signoff
from trading.evaluation.api import load_lot
from trading.evaluation.models import FLAG_LABELS, Clarification, ComplianceVote, EvalState, Evaluation, Expert, Seat
from trading.evaluation.report import METHOD_TEXT
from trading.evaluation.schemas import (
    AskIn,
    ClarificationOut,
    ClarificationsOut,
    ComplianceIn,
    LeaderIn,
    OpenIn,
    ReasonIn,
    ReportSignIn,
    RepresentativeIn,
    RepresentativesOut,
    RoomOfLotOut,
    RoomOut,
    ScoresIn,
    SendBackIn,
    SignatureIn,
    TextIn,
)
from trading.opening.display import credit_code_of, org_name
from trading.opening.stage_routes import deprecated, refuse_unless_next, unknown_stage
from trading.pki.trust import trust
from trading.tenders.models import Lot

api = Blueprint("evaluation_room_api", __name__, url_prefix="/api/v1")


def load_evaluation(evaluation_id: int, *, for_update: bool = False) -> Evaluation:
    q = select(Evaluation).where(Evaluation.id == evaluation_id)
    ev = web.db().scalar(locked(q) if for_update else q)
    if ev is None:
        raise NotFound("评标不存在")
    return ev


def _viewer(ev: Evaluation, user: User) -> Seat | None:
    """Staff, or a member of this committee (recused members keep their view of the sign-in)."""
    if Role.STAFF in user.roles:
        return None
    try:
        return room.my_seat(web.db(), user, ev, recused_too=True)
    except NotFound:  # not an expert of the pool at all
        raise Forbidden("您不是本标段评标委员会成员", code="not_in_committee") from None


def room_json(ev: Evaluation, user: User) -> dict[str, Any]:
    db = web.db()
    seat = _viewer(ev, user)
    lot, tender = room.lot_and_tender(db, ev)
    everyone = room.seats(db, ev, present=False)
    experts = {e.id: e for e in db.scalars(select(Expert).where(Expert.id.in_([s.expert_id for s in everyone])))}
    bids = room.bidders(db, ev)
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
        "bidders": [
            {
                "id": b.id,  # the seat's id, as opening_seat (kept: the room page reads it)
                "opening_seat": b.id,
                "name": org_name(db, b.org_id),
                "credit_code": credit_code_of(db, b.org_id),  # names are not unique: the chart tells two apart
                "price": (b.price_sheet or {}).get("price"),
                "compliance": (ev.compliance or {}).get(str(b.id)),
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


@api.post("/tenders/<code>/lots/<int:number>/evaluation")
@requires(Permission.EXPERT_MANAGE)
@documented(
    "开启评标室",
    body=OpenIn,
    ok=RoomOut,
    status=201,
    errors=("already_open", "not_drawn", "committee_incomplete", "wrong_state"),
)
def open_room(code: str, number: int) -> tuple[Response, int]:
    data = web.json_body(OpenIn)
    ev = room.open_room(web.db(), web.require_user(), load_lot(code, number), data.z_limit, data.candidates)
    web.commit()
    return jsonify(room_json(ev, web.require_user())), 201


@api.get("/tenders/<code>/lots/<int:number>/evaluation")
@requires(Permission.PUBLIC)
@documented("标段的评标及其阶段", ok=RoomOfLotOut, errors=("not_started",))
def of_lot(code: str, number: int) -> Response:
    """Which evaluation a lot has and its stage (nothing more: the room is not public)."""
    ev = room.evaluation_of(web.db(), load_lot(code, number))
    return jsonify({"id": ev.id, "state": ev.state.value, "state_label": ev.state.label})


def managed_lot(code: str, number: int) -> Lot:
    """A lot, for the tenderee or its agency (who name the tenderee's representatives)."""
    lot = load_lot(code, number)
    if not lot.tender.can_manage(web.require_user()):
        raise Forbidden("只有本项目的招标人或招标代理机构可以指定招标人代表")
    return lot


def managed_evaluation(code: str, number: int, *, for_update: bool = False) -> Evaluation:
    """A lot's evaluation, for the tenderee or its agency."""
    ev = room.evaluation_of(web.db(), managed_lot(code, number))
    return load_evaluation(ev.id, for_update=True) if for_update else ev


def representatives_json(ev: Evaluation) -> dict[str, Any]:
    db = web.db()
    lot, tender = room.lot_and_tender(db, ev)
    named = [s for s in room.seats(db, ev, present=False) if s.representative]
    names = {e.id: e.name for e in db.scalars(select(Expert).where(Expert.id.in_([s.expert_id for s in named])))}
    return {
        "evaluation": ev.id,
        "state": ev.state.value,
        "state_label": ev.state.label,
        "required": lot.representative_seats,
        "named": [
            {
                "expert": s.expert_id,
                "name": names[s.expert_id],
                "signed_in": s.signed_in_at is not None,
                "pledged": s.pledged_at is not None,
                "recused": s.recused_at is not None,
                "recusal_reason": s.recusal_reason,
            }
            for s in named
        ],
        "eligible": [
            {"username": u.username, "name": u.display_name}
            for u in committee.eligible_representatives(db, tender, trust())
        ],
    }


@api.get("/tenders/<code>/lots/<int:number>/representatives")
@requires(Permission.TENDER_MANAGE)
@documented("招标人代表席位", ok=RepresentativesOut, errors=("not_started",))
def representatives(code: str, number: int) -> Response:
    return jsonify(representatives_json(managed_evaluation(code, number)))


def designate_by_username(code: str, number: int, username: str) -> Evaluation:
    """Name the account ``username`` to the lot's committee (the API and the page); not committed."""
    db = web.db()
    ev = managed_evaluation(code, number, for_update=True)
    rep = db.scalar(select(User).where(User.username == username))
    if rep is None:
        raise InvalidInput("该账户不存在", fields={"username": "招标人单位的账户"})
    committee.designate_representative(db, web.require_user(), ev, rep, trust())
    return ev


@api.post("/tenders/<code>/lots/<int:number>/representatives")
@requires(Permission.TENDER_MANAGE)
@documented(
    "指定招标人代表",
    body=RepresentativeIn,
    ok=RepresentativesOut,
    status=201,
    errors=("not_started", "not_eligible", "already_seated", "representatives_complete", "wrong_state"),
)
def designate(code: str, number: int) -> tuple[Response, int]:
    ev = designate_by_username(code, number, web.json_body(RepresentativeIn).username)
    web.commit()
    return jsonify(representatives_json(ev)), 201


@api.get("/evaluations/<int:evaluation_id>")
@requires(Permission.EVALUATION_ROOM)
@documented("评标室", ok=RoomOut, errors=("not_in_committee",))
def show(evaluation_id: int) -> Response:
    return jsonify(room_json(load_evaluation(evaluation_id), web.require_user()))


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
        committee.start_review(db, user, ev)
    elif to is EvalState.SCORING:
        compliance.close_compliance(db, user, ev)
    else:
        # the findings are kept even when the report is refused for them
        scores.run_checks(db, user, ev)
        web.commit_and_reread()  # the report is built from the sheets as they are under the lock
        ev = load_evaluation(ev.id, for_update=True)
        signoff.generate_report(db, user, ev, services(current_app))
    return ev


def stage_named(stage: str) -> EvalState:
    try:
        return EvalState(stage)
    except ValueError:
        raise unknown_stage(stage, [s.value for s in EvalState]) from None


@api.post("/evaluations/<int:evaluation_id>/stages/<stage>")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "进入指定的下一阶段（组长或交易中心）",
    ok=RoomOut,
    errors=(
        "stage_not_next",
        "unknown_stage",
        "wrong_state",
        "not_leader",
        "no_leader",
        "committee_incomplete",
        "votes_missing",
        "scores_missing",
        "flags_open",
        "evaluation_transition",
    ),
)
def enter_stage(evaluation_id: int, stage: str) -> Response:
    """The leader (or staff) moves the room into ``stage``: ``compliance`` (the review starts),
    ``scoring`` (the review closes), ``signing`` (the report is generated). Anything else than the
    next stage is refused with 409 ``stage_not_next``, naming the current stage and the allowed
    next ones; the step's own refusals (``votes_missing``, ``flags_open``…) keep their codes."""
    wanted = stage_named(stage)
    ev = load_evaluation(evaluation_id, for_update=True)
    refuse_unless_next("评标", ev.state.value, ev.state.label, wanted.value, next_stages(ev))
    ev = enter(ev, wanted)
    web.commit()
    return jsonify(room_json(ev, web.require_user()))


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
        signoff.send_back(db, user, ev, b.reason, b.to)
    else:
        raise NotFound("未知操作")
    web.commit()
    return jsonify(room_json(ev, user) | result)


# "publicity" (the candidates' publicity, which follows the report) is served by the next stage.
# One route per verb, each with its body; the stage moves have their route, ``stages/{stage}``.
@api.post("/evaluations/<int:evaluation_id>/sign-in")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "专家签到（SM2 签名 statements.signin）",
    body=SignatureIn,
    ok=RoomOut,
    errors=("wrong_state", "already_signed_in", "certificate_missing", "invalid_signature", "not_in_committee"),
)
def sign_in_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "sign-in")


@api.post("/evaluations/<int:evaluation_id>/pledge")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "签署回避承诺（SM2 签名 statements.pledge）",
    body=SignatureIn,
    ok=RoomOut,
    errors=(
        "wrong_state",
        "not_signed_in",
        "already_pledged",
        "certificate_missing",
        "invalid_signature",
        "not_in_committee",
    ),
)
def pledge_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "pledge")


@api.post("/evaluations/<int:evaluation_id>/recuse")
@requires(Permission.EVALUATION_ROOM)
@documented("申请回避", body=ReasonIn, ok=RoomOut, errors=("wrong_state", "not_in_committee"))
def recuse_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "recuse")


@api.post("/evaluations/<int:evaluation_id>/leader")
@requires(Permission.EVALUATION_ROOM)
@documented("推选评标委员会组长", body=LeaderIn, ok=RoomOut, errors=("wrong_state", "not_pledged", "not_in_committee"))
def leader_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "leader")


@api.post("/evaluations/<int:evaluation_id>/compliance")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "资格/符合性审查投票（opening_seat 指明投标）",
    body=ComplianceIn,
    ok=RoomOut,
    errors=("wrong_state", "unknown_bidder", "not_pledged", "not_in_committee"),
)
def compliance_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "compliance")


@api.post("/evaluations/<int:evaluation_id>/scores")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "提交评分（opening_seat 指明投标）",
    body=ScoresIn,
    ok=RoomOut,
    errors=("wrong_state", "unknown_bidder", "factors_mismatch", "no_factors", "not_pledged", "not_in_committee"),
)
def scores_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "scores")


@api.post("/evaluations/<int:evaluation_id>/checks")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "运行评审检查（离群、算术、客观分不一致）", ok=RoomOut, errors=("wrong_state", "scores_missing", "not_leader")
)
def checks_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "checks")


@api.post("/evaluations/<int:evaluation_id>/clarify")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "要求投标人澄清（opening_seat 指明投标）",
    body=AskIn,
    ok=RoomOut,
    errors=("wrong_state", "unknown_bidder", "not_leader"),
)
def clarify_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "clarify")


@api.post("/evaluations/<int:evaluation_id>/sign")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "签署评标报告（SM2 签名 statements.report）",
    body=ReportSignIn,
    ok=RoomOut,
    errors=("wrong_state", "already_signed", "certificate_missing", "invalid_signature", "not_in_committee"),
)
def sign_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "sign")


@api.post("/evaluations/<int:evaluation_id>/send-back")
@requires(Permission.EVALUATION_ROOM)
@documented("评标回退（交易中心）", body=SendBackIn, ok=RoomOut, errors=("wrong_state", "evaluation_transition"))
def send_back_verb(evaluation_id: int) -> Response:
    return act(evaluation_id, "send-back")


@api.post("/evaluations/<int:evaluation_id>/signin")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "专家签到（旧路径，请改用 sign-in）",
    body=SignatureIn,
    ok=RoomOut,
    deprecated=True,
    errors=("wrong_state", "already_signed_in", "certificate_missing", "invalid_signature", "not_in_committee"),
)
def signin(evaluation_id: int) -> Response:
    """Deprecated alias of ``POST /evaluations/{id}/sign-in`` (removed in the next version)."""
    deprecated(f"/api/v1/evaluations/{evaluation_id}/sign-in")
    return act(evaluation_id, "sign-in")


@api.post("/evaluations/<int:evaluation_id>/advance")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "推进到下一阶段（旧路径，请改用 stages/{stage}）",
    ok=RoomOut,
    deprecated=True,
    errors=(
        "wrong_state",
        "not_leader",
        "no_leader",
        "committee_incomplete",
        "votes_missing",
        "scores_missing",
        "flags_open",
        "evaluation_transition",
    ),
)
def advance(evaluation_id: int) -> Response:
    """Deprecated alias: take whatever step comes next (``POST /evaluations/{id}/stages/{stage}``)."""
    ev = load_evaluation(evaluation_id)
    after = next_stages(ev)
    deprecated(f"/api/v1/evaluations/{evaluation_id}/stages/{after[0] if after else '{stage}'}")
    return act(evaluation_id, "advance")


@api.post("/evaluations/<int:evaluation_id>/flags/<int:flag_id>/resolve")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "处理评审提示（写明理由）", body=ReasonIn, ok=RoomOut, errors=("already_resolved", "wrong_state", "not_leader")
)
def resolve(evaluation_id: int, flag_id: int) -> Response:
    ev = load_evaluation(evaluation_id, for_update=True)
    scores.resolve_flag(web.db(), web.require_user(), ev, flag_id, web.json_body(ReasonIn).reason)
    web.commit()
    return jsonify(room_json(ev, web.require_user()))


@api.get("/evaluations/<int:evaluation_id>/bids/<int:bidder_id>/copy")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "投标文件的水印副本（旧路径，请改用 opening-seats）",
    ok="application/zip",
    deprecated=True,
    errors=("unknown_bidder", "not_a_package", "not_pledged", "not_in_committee", "wrong_state"),
)
def bid_copy_alias(evaluation_id: int, bidder_id: int) -> Response:
    """Deprecated alias of ``…/opening-seats/{opening_seat}/copy``: the id was always the seat's."""
    deprecated(f"/api/v1/evaluations/{evaluation_id}/opening-seats/{bidder_id}/copy")
    return bid_copy(evaluation_id, bidder_id)


@api.get("/evaluations/<int:evaluation_id>/opening-seats/<int:opening_seat>/copy")
@requires(Permission.EVALUATION_ROOM)
@documented(
    "投标文件的水印副本（每次下载编号并记录）",
    ok="application/zip",
    errors=("unknown_bidder", "not_a_package", "not_pledged", "not_in_committee", "wrong_state"),
)
def bid_copy(evaluation_id: int, opening_seat: int) -> Response:
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


@api.get("/evaluations/<int:evaluation_id>/report.pdf")
@requires(Permission.EVALUATION_ROOM)
@documented("评标报告（PDF）", ok="application/pdf", errors=("not_in_committee",))
def report_pdf(evaluation_id: int) -> Response:
    ev = load_evaluation(evaluation_id)
    _viewer(ev, web.require_user())
    if not ev.report_pdf_key:
        raise NotFound("评标报告尚未生成")
    return Response(services(current_app).store.read_bytes(ev.report_pdf_key), mimetype="application/pdf")


# ---------------------------------------------------------------- bidders
def _clarification_json(c: Clarification) -> dict[str, Any]:
    return {
        "id": c.id,
        "evaluation": c.evaluation_id,
        "question": c.question,
        "asked_at": c.asked_at.isoformat(),
        "deadline": c.deadline.isoformat(),
        "answer": c.answer,
        "answered_at": c.answered_at.isoformat() if c.answered_at else None,
    }


@api.get("/me/clarifications")
@requires(Permission.TENDER_PARTICIPATE)
@documented("本单位收到的澄清要求", ok=ClarificationsOut)
def my_clarifications() -> Response:
    items = compliance.clarifications_for_org(web.db(), web.require_user())
    return jsonify({"items": [_clarification_json(c) for c in items]})


@api.post("/clarifications/<int:clarification_id>/answer")
@requires(Permission.TENDER_PARTICIPATE)
@documented("答复澄清要求", body=TextIn, ok=ClarificationOut, errors=("already_answered", "too_late"))
def answer_clarification(clarification_id: int) -> Response:
    c = compliance.answer(web.db(), web.require_user(), clarification_id, web.json_body(TextIn).text)
    web.commit()
    return jsonify(_clarification_json(c))
