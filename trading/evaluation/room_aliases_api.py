"""The evaluation room's deprecated API routes, kept for one version (docs/api.md lists them): each
answers as its successor does, with ``Deprecation`` and ``Link`` headers (``stage_routes.deprecated``).
Removing them is deleting this module and its blueprint's registration."""

from __future__ import annotations

from flask import Blueprint, Response

from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.evaluation.room_state import act, bid_copy_response, load_evaluation, next_stages
from trading.evaluation.schemas import RoomOut, SignatureIn
from trading.opening.stage_routes import deprecated

api = Blueprint("evaluation_room_aliases", __name__, url_prefix="/api/v1")


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
    return bid_copy_response(evaluation_id, bidder_id)
