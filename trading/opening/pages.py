"""The live room's pages: one room for every role (staff controls, bidder actions, supervisor and
public views), followed live with Server-Sent Events."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.errors import DomainError, InvalidInput
from trading.core.services import services
from trading.opening import api as opening_api
from trading.opening import bidders, ceremonies, controls, failures, hall, joint_api
from trading.opening.api import current
from trading.opening.joint_api import joint_control, joint_rooms, joint_scopes
from trading.opening.live import make_ticket
from trading.opening.models import EVENT_KIND_LABELS
from trading.opening.room_state import ceremony_json, joint_json
from trading.opening.schemas import ExtendIn
from trading.opening.streams import Scopes

pages = Blueprint("opening", __name__, template_folder="templates")
CONTROLS = ("advance", "pause", "resume", "extend")


#: what the host is told after a control that is not a stage move (a move names the new stage)
DONE = {
    "advance": "已进入下一阶段",
    "pause": "已暂停",
    "resume": "已继续",
    "extend": "本阶段已延长",
    "answer": "异议已答复",
    "lift": "已准许该投标人再次提交密钥",
}


@pages.get("/ceremonies", endpoint="hall")
@requires(Permission.PUBLIC)
def hall_page() -> str:
    """开标大厅: today's openings, the rooms running or to come, and those recently ended."""
    return render_template("opening/hall.html", hall=hall.opening_hall(web.db()), recent_days=hall.RECENT_DAYS)


@pages.get("/ceremonies/<int:ceremony_id>")
@requires(Permission.PUBLIC)
def room(ceremony_id: int) -> str:
    c = current(ceremony_id)
    user = web.current_user()
    state = ceremony_json(c, user)
    return render_template(
        "opening/room.html",
        c=c,
        state=state,
        joint=ceremonies.tender_of(web.db(), c).joint_opening,
        live_stream=_live_stream({c.id: ceremonies.viewer_scope(web.db(), c, user)}, f"/live/ceremonies/{c.id}"),
        host=web.has_permission(Permission.CEREMONY_HOST.value),
        seat=ceremonies.my_seat(web.db(), c, user),
        event_kinds=list(EVENT_KIND_LABELS),
    )


def _live_stream(scopes: Scopes, path: str) -> dict[str, str] | None:
    """Where the page follows the room: the live room's own process (``ggzy live``) with a signed
    ticket when one runs, else (None) this app's own stream."""
    settings = current_app.extensions["ggzy.settings"]
    if not settings.live_url:
        return None
    return {"base": settings.live_url, "path": path, "ticket": make_ticket(settings.secret_key, scopes)}


@pages.get("/ceremonies/<int:ceremony_id>/state")
@requires(Permission.PUBLIC)
def state(ceremony_id: int) -> Response:
    return opening_api.show(ceremony_id)


@pages.get("/ceremonies/<int:ceremony_id>/live")
@requires(Permission.PUBLIC)
def live(ceremony_id: int) -> Response:
    return opening_api.events(ceremony_id)


@pages.post("/ceremonies/<int:ceremony_id>/control/<action>")
@requires(Permission.CEREMONY_HOST)
def control(ceremony_id: int, action: str) -> ResponseReturnValue:
    db, staff = web.db(), web.require_user()
    c = current(ceremony_id, for_update=True)
    form = request.form
    try:
        if action == "advance":
            controls.advance(db, staff, c, services(current_app))
        elif action == "pause":
            controls.pause(db, staff, c, form.get("reason", ""))
        elif action == "resume":
            controls.resume(db, staff, c)
        elif action == "extend":
            data = web.form_body(ExtendIn)  # the form the joint room's extend reads too
            controls.extend(db, staff, c, data.minutes, data.reason)
        elif action == "lift":
            bidders.lift_set_aside(db, staff, c, form.get("credit_code", ""), form.get("reason", ""))
        elif action == "answer":
            objection = web.form_int("objection")  # not a number: no such objection
            bidders.answer_objection(db, staff, c, objection or 0, form.get("answer", ""))
        else:
            raise InvalidInput("未知操作")
        web.commit()
        flash(f"已进入“{c.stage.label}”" if action == "advance" else DONE[action])
    except failures.AdvanceFailed as exc:
        web.commit()  # the step itself was undone; its failure's audit event stays
        flash(_failed_text(exc))
    except DomainError as exc:
        db.rollback()
        flash(f"未执行：{exc.message}")
    return redirect(url_for("opening.room", ceremony_id=ceremony_id))


def _failed_text(exc: failures.AdvanceFailed) -> str:
    """Staff read what happened in Chinese; the error class is for technical support."""
    return f"未执行：{exc.message}（技术信息：{exc.error}）"


@pages.post("/ceremonies/<int:ceremony_id>/say")
@requires(Permission.AUTHENTICATED)
def say(ceremony_id: int) -> ResponseReturnValue:
    """Chat to the host, or (bidders) an objection."""
    db, user = web.db(), web.require_user()
    c = current(ceremony_id, for_update=True)
    try:
        if request.form.get("kind") == "objection":
            bidders.raise_objection(db, user, c, request.form.get("text", ""))
        else:
            bidders.post_message(db, user, c, request.form.get("text", ""))
        web.commit()
        flash("已发送")
    except DomainError as exc:
        db.rollback()
        flash(f"未发送：{exc.message}")
    return redirect(url_for("opening.room", ceremony_id=ceremony_id))


# The room page's key-file actions (ukey.js), like its state and live routes above: the API's own
# views, reached with the page's session (and for a POST its CSRF token in X-CSRFToken) instead of
# a bearer token. Errors answer in JSON (the script sends Accept: application/json).
@pages.post("/ceremonies/<int:ceremony_id>/signin")
@requires(Permission.TENDER_PARTICIPATE)
def signin(ceremony_id: int) -> ResponseReturnValue:
    return opening_api.sign_in(ceremony_id)


@pages.post("/ceremonies/<int:ceremony_id>/decrypt")
@requires(Permission.TENDER_PARTICIPATE)
def decrypt(ceremony_id: int) -> ResponseReturnValue:
    return opening_api.decrypt(ceremony_id)


@pages.post("/ceremonies/<int:ceremony_id>/confirm")
@requires(Permission.TENDER_PARTICIPATE)
def confirm(ceremony_id: int) -> ResponseReturnValue:
    return opening_api.confirm(ceremony_id)


# ---------------------------------------------------------------- 合并开标室 (the lots opened together)
@pages.get("/tenders/<code>/opening")
@requires(Permission.PUBLIC)
def joint_room(code: str) -> str:
    tender, rooms = joint_rooms(code)
    user = web.current_user()
    return render_template(
        "opening/joint.html",
        tender=tender,
        state=joint_json(tender, rooms, user),
        host=web.has_permission(Permission.CEREMONY_HOST.value),
        live_stream=_live_stream(joint_scopes(rooms, user), "/live/rooms"),
        event_kinds=list(EVENT_KIND_LABELS),
    )


@pages.get("/tenders/<code>/opening/state")
@requires(Permission.PUBLIC)
def joint_state(code: str) -> Response:
    return joint_api.joint_show(code)


@pages.get("/tenders/<code>/opening/live")
@requires(Permission.PUBLIC)
def joint_live(code: str) -> Response:
    return joint_api.joint_events(code)


@pages.post("/tenders/<code>/opening/control/<action>")
@requires(Permission.CEREMONY_HOST)
def joint_control_page(code: str, action: str) -> ResponseReturnValue:
    try:
        joint_control(code, action)
        flash(f"全部标段：{DONE.get(action, '已执行')}")
    except failures.AdvanceFailed as exc:  # committed by joint_control: the failure stays recorded
        flash(_failed_text(exc))
    except DomainError as exc:
        web.db().rollback()
        flash(f"未执行：{exc.message}")
    return redirect(url_for("opening.joint_room", code=code))
