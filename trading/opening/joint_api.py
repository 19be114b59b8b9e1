"""The joint opening's JSON API (合并开标: a tender's lots opened together in one room): the room,
its event stream, and the staff controls that move every running lot at once."""

from __future__ import annotations

from typing import TypeVar

from flask import Blueprint, Response, current_app, jsonify, request

from trading.accounts import web
from trading.accounts.models import User
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import NotFound
from trading.core.schemas import Schema
from trading.core.services import services
from trading.opening import ceremonies, failures, joint, stages
from trading.opening.event_responses import events_response
from trading.opening.lifecycle import next_stages
from trading.opening.models import Ceremony, Stage
from trading.opening.room_state import joint_json
from trading.opening.schemas import ExtendIn, JointOut, ReasonIn
from trading.opening.stage_routes import deprecated, refuse_unless_next, stage_named
from trading.opening.streams import Scopes
from trading.tenders.loading import load
from trading.tenders.models import Tender

M = TypeVar("M", bound=Schema)
api = Blueprint("opening_joint_api", __name__, url_prefix="/api/v1")


def joint_rooms(code: str, *, for_update: bool = False) -> tuple[Tender, list[Ceremony]]:
    """The tender (visible to the caller) and its lots' ceremonies, brought up to now."""
    tender = load(code)
    rooms = joint.members(web.db(), tender, services(current_app), for_update=for_update)
    if not for_update:
        web.commit_and_reread()
    return tender, rooms


def joint_scopes(rooms: list[Ceremony], user: User | None) -> Scopes:
    return {c.id: ceremonies.viewer_scope(web.db(), c, user) for c in rooms}


@api.get("/tenders/<code>/opening")
@requires(Permission.PUBLIC)
@documented("合并开标室", ok=JointOut, errors=("not_joint",))
def joint_show(code: str) -> Response:
    tender, rooms = joint_rooms(code)
    return jsonify(joint_json(tender, rooms, web.current_user()))


@api.get("/tenders/<code>/opening/events")
@requires(Permission.PUBLIC)
@documented("合并开标室的事件流（SSE；?once=1 返回 JSON）", ok="text/event-stream", errors=("not_joint",))
def joint_events(code: str) -> Response:
    """Every lot's events the caller may see; SSE ids are cursors (``12:812,13:790``)."""
    _, rooms = joint_rooms(code)
    return events_response(joint_scopes(rooms, web.current_user()), cursor=True)


def joint_control(
    code: str, action: str, *, loaded: tuple[Tender, list[Ceremony]] | None = None
) -> tuple[Tender, list[Ceremony]]:
    """One staff control over every running lot at once (the API's and the page's); ``loaded``:
    the tender and its lots the caller already loaded for update."""
    tender, rooms = loaded or joint_rooms(code, for_update=True)
    db, staff, svc = web.db(), web.require_user(), services(current_app)
    if action == "advance":
        try:
            joint.advance(db, staff, tender, svc)
        except failures.AdvanceFailed:
            web.commit()  # no lot moved; the failure's audit event and room notice stay
            raise
    elif action == "pause":
        joint.pause(db, staff, tender, svc, _body(ReasonIn).reason)
    elif action == "resume":
        joint.resume(db, staff, tender, svc)
    elif action == "extend":
        data = _body(ExtendIn)
        joint.extend(db, staff, tender, svc, data.minutes, data.reason)
    else:
        raise NotFound("未知操作")
    web.commit()
    return tender, rooms


def _body(model: type[M]) -> M:
    """JSON from the API, the form from the joint room page."""
    return web.json_body(model) if request.is_json else web.form_body(model)


def joint_stage(rooms: list[Ceremony]) -> Stage:
    """The stage a 合并开标 is in: its running lots' (they move as one; the earliest if an older
    version let them fall apart), else the first lot's."""
    live = [c.stage for c in rooms if c.stage in stages.ORDER]
    return min(live, key=stages.ORDER.index) if live else rooms[0].stage


def joint_next_stages(rooms: list[Ceremony]) -> list[str]:
    return next_stages(joint_stage(rooms)) if rooms else []


def _joint_moved(tender: Tender, rooms: list[Ceremony]) -> Response:
    return jsonify(joint_json(tender, rooms, web.current_user()) | {"next_stages": joint_next_stages(rooms)})


@api.post("/tenders/<code>/opening/stages/<stage>")
@requires(Permission.CEREMONY_HOST)
@documented(
    "合并开标：各标段一同进入指定的下一阶段",
    ok=JointOut,
    errors=(
        "stage_not_next",
        "unknown_stage",
        "not_joint",
        "wrong_stage",
        "stage_not_done",
        "stages_differ",
        "paused",
        "advance_failed",
    ),
)
def joint_enter_stage(code: str, stage: str) -> Response:
    """合并开标: every running lot ends its window and enters ``stage`` together, which must be
    the next one (409 ``stage_not_next`` otherwise)."""
    wanted = stage_named(stage)
    tender, rooms = joint_rooms(code, for_update=True)
    if not rooms:
        raise NotFound("本项目没有开标室")
    now = joint_stage(rooms)
    refuse_unless_next("合并开标", now.value, now.label, wanted.value, next_stages(now))
    tender, rooms = joint_control(code, "advance", loaded=(tender, rooms))
    return _joint_moved(tender, rooms)


@api.post("/tenders/<code>/opening/pause")
@requires(Permission.CEREMONY_HOST)
@documented("合并开标：暂停各标段", body=ReasonIn, ok=JointOut, errors=("not_joint", "wrong_stage", "paused"))
def joint_pause(code: str) -> Response:
    return _joint_moved(*joint_control(code, "pause"))


@api.post("/tenders/<code>/opening/resume")
@requires(Permission.CEREMONY_HOST)
@documented("合并开标：继续各标段", ok=JointOut, errors=("not_joint", "wrong_stage", "not_paused"))
def joint_resume(code: str) -> Response:
    return _joint_moved(*joint_control(code, "resume"))


@api.post("/tenders/<code>/opening/extend")
@requires(Permission.CEREMONY_HOST)
@documented("合并开标：延长各标段的当前阶段", body=ExtendIn, ok=JointOut, errors=("not_joint", "wrong_stage"))
def joint_extend(code: str) -> Response:
    return _joint_moved(*joint_control(code, "extend"))


@api.post("/tenders/<code>/opening/advance")
@requires(Permission.CEREMONY_HOST)
@documented(
    "合并开标：进入下一阶段（旧路径，请改用 stages/{stage}）",
    ok=JointOut,
    deprecated=True,
    errors=("not_joint", "wrong_stage", "stage_not_done", "stages_differ", "paused", "advance_failed"),
)
def joint_advance(code: str) -> Response:
    """Deprecated alias: every running lot enters its next stage (``…/opening/stages/{stage}``)."""
    tender, rooms = joint_rooms(code, for_update=True)
    after = joint_next_stages(rooms)
    deprecated(f"/api/v1/tenders/{code}/opening/stages/{after[0] if after else '{stage}'}")
    tender, rooms = joint_control(code, "advance", loaded=(tender, rooms))
    return _joint_moved(tender, rooms)
