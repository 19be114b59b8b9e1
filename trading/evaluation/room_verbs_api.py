"""The evaluation room's actions over the API, one route per verb (``/evaluations/<id>/sign-in``,
``…/pledge``…), each with its body. They are open to staff and experts alike (``EVALUATION_ROOM``);
the operations decide who may do what (a committee member, the leader, staff). The room page posts
the same actions with its session and CSRF token (``room_state.act`` serves both)."""

from __future__ import annotations

from flask import Blueprint, Response

from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.evaluation.room_state import act
from trading.evaluation.schemas import (
    AskIn,
    ComplianceIn,
    LeaderIn,
    ReasonIn,
    ReportSignIn,
    RoomOut,
    ScoresIn,
    SendBackIn,
    SignatureIn,
)

api = Blueprint("evaluation_room_verbs", __name__, url_prefix="/api/v1")


# "publicity" (the candidates' publicity, which follows the report) is served by the next stage.
# One route per verb, each with its body; the stage moves have their route, ``stages/{stage}`` (room_api).
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
