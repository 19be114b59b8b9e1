"""The live room's pages: one room for every role (staff controls, bidder actions, supervisor and
public views), followed live with Server-Sent Events."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from trading import web
from trading.app import services
from trading.errors import DomainError, InvalidInput
from trading.opening import api as opening_api
from trading.opening import operations as ops
from trading.opening.api import ceremony_json, current, event_stream, resume_after
from trading.opening.live import make_ticket
from trading.permissions import Permission, requires

pages = Blueprint("opening", __name__)
CONTROLS = ("advance", "pause", "resume", "extend")


@pages.get("/ceremonies/<int:ceremony_id>")
@requires(Permission.PUBLIC)
def room(ceremony_id: int) -> str:
    c = current(ceremony_id)
    user = web.current_user()
    state = ceremony_json(c, user)
    settings = current_app.extensions["ggzy.settings"]
    live_stream = None
    if settings.live_url:  # the live room's own process (``ggzy live``), reached with a signed ticket
        ticket = make_ticket(settings.secret_key, c.id, ops.viewer_scope(web.db(), c, user))
        live_stream = {"base": settings.live_url, "ticket": ticket}
    return render_template(
        "opening/room.html",
        c=c,
        state=state,
        live_stream=live_stream,
        host=web.has_permission(Permission.CEREMONY_HOST.value),
        seat=ops.my_seat(web.db(), c, user),
    )


@pages.get("/ceremonies/<int:ceremony_id>/state")
@requires(Permission.PUBLIC)
def state(ceremony_id: int) -> Response:
    from flask import jsonify

    return jsonify(ceremony_json(current(ceremony_id), web.current_user()))


@pages.get("/ceremonies/<int:ceremony_id>/live")
@requires(Permission.PUBLIC)
def live(ceremony_id: int) -> Response:
    c = current(ceremony_id)
    return event_stream(c, web.current_user(), resume_after())


@pages.post("/ceremonies/<int:ceremony_id>/control/<action>")
@requires(Permission.CEREMONY_HOST)
def control(ceremony_id: int, action: str) -> ResponseReturnValue:
    db, staff = web.db(), web.require_user()
    c = current(ceremony_id, for_update=True)
    form = request.form
    try:
        if action == "advance":
            ops.advance(db, staff, c, services(current_app))
        elif action == "pause":
            ops.pause(db, staff, c, form.get("reason", ""))
        elif action == "resume":
            ops.resume(db, staff, c)
        elif action == "extend":
            try:
                minutes = int(form.get("minutes", ""))
            except ValueError:
                raise InvalidInput("延长分钟数应为整数", fields={"minutes": "整数"}) from None
            ops.extend(db, staff, c, minutes, form.get("reason", ""))
        elif action == "answer":
            ops.answer_objection(db, staff, c, int(form.get("objection", "0") or 0), form.get("answer", ""))
        else:
            raise InvalidInput("未知操作")
        web.commit()
        flash("已执行")
    except DomainError as exc:
        db.rollback()
        flash(f"未执行：{exc.message}")
    return redirect(url_for("opening.room", ceremony_id=ceremony_id))


@pages.post("/ceremonies/<int:ceremony_id>/say")
@requires(Permission.AUTHENTICATED)
def say(ceremony_id: int) -> ResponseReturnValue:
    """Chat to the host, or (bidders) an objection."""
    db, user = web.db(), web.require_user()
    c = current(ceremony_id, for_update=True)
    try:
        if request.form.get("kind") == "objection":
            ops.raise_objection(db, user, c, request.form.get("text", ""))
        else:
            ops.post_message(db, user, c, request.form.get("text", ""))
        web.commit()
        flash("已发送")
    except DomainError as exc:
        db.rollback()
        flash(f"未发送：{exc.message}")
    return redirect(url_for("opening.room", ceremony_id=ceremony_id))


# The room page's key-file actions (ukey.js): the API's own views, reached with the page's session
# and its CSRF token (X-CSRFToken) instead of a bearer token. Errors answer in JSON (Accept).
@pages.post("/ceremonies/<int:ceremony_id>/signin")
@requires(Permission.TENDER_PARTICIPATE)
def signin(ceremony_id: int) -> ResponseReturnValue:
    return opening_api.signin(ceremony_id)


@pages.post("/ceremonies/<int:ceremony_id>/decrypt")
@requires(Permission.TENDER_PARTICIPATE)
def decrypt(ceremony_id: int) -> ResponseReturnValue:
    return opening_api.decrypt(ceremony_id)


@pages.post("/ceremonies/<int:ceremony_id>/confirm")
@requires(Permission.TENDER_PARTICIPATE)
def confirm(ceremony_id: int) -> ResponseReturnValue:
    return opening_api.confirm(ceremony_id)
