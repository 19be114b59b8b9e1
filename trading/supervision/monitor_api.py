"""The live monitor's JSON: today's and upcoming openings and evaluation rooms, their clocks and warnings."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, url_for

from archive import clock
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.opening.live import make_ticket
from trading.opening.streams import Scopes
from trading.supervision.monitor import may_open_evaluation, monitor_json
from trading.supervision.monitor_schemas import MonitorOut

api = Blueprint("monitor_api", __name__, url_prefix="/api/v1")


def room_url(kind: str, room_id: int) -> str | None:
    """The page a viewer may open for a room: the ceremony room (read-only for supervisors), the
    evaluation room for those who may enter it."""
    if kind == "opening":
        return url_for("opening.room", ceremony_id=room_id)
    return (
        url_for("evaluation_room.room_page", evaluation_id=room_id) if may_open_evaluation(web.current_user()) else None
    )


def live_stream(scopes: Scopes) -> dict[str, str] | None:
    """Where the page follows the rooms: the live server (``ggzy live``) with a ticket signed for
    these rooms, or None when none runs (the page then refreshes its JSON every 15 s)."""
    settings = current_app.extensions["ggzy.settings"]
    if not settings.live_url:
        return None
    return {"base": settings.live_url, "path": "/live/rooms", "ticket": make_ticket(settings.secret_key, scopes)}


def current_monitor() -> dict[str, object]:
    return monitor_json(web.db(), web.current_user(), clock.now(), room_url, live_stream)


@api.get("/supervision/monitor")
@requires(Permission.SUPERVISION_READ)
@documented("实时监控：今日及即将开标的开标室、进行中的评标室，各自的阶段、倒计时与预警", ok=MonitorOut)
def monitor() -> Response:
    """投标截止前不提供投标数或投标人（招标投标法第二十二条）。"""
    return jsonify(current_monitor())
