"""A lot's collusion signals (串标迹象) over the API: for staff, supervisors and the lot's committee,
only after its opening."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("signals_api", __name__, url_prefix="/api/v1")
