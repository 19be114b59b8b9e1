"""The supervisors' live monitor (实时监控)."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template

from trading.accounts.permissions import Permission, requires
from trading.supervision.monitor_api import current_monitor

pages = Blueprint("monitor", __name__, template_folder="templates")


@pages.get("/supervision/monitor")
@requires(Permission.SUPERVISION_READ)
def monitor_page() -> str:
    return render_template("supervision/monitor.html", m=current_monitor())


@pages.get("/supervision/monitor/state")
@requires(Permission.SUPERVISION_READ)
def monitor_state() -> Response:
    """The page's refresh (its session, not a token): the API's JSON."""
    return jsonify(current_monitor())
