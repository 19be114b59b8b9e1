"""A lot's collusion signals (串标迹象) as pages, after its opening."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("signals", __name__, template_folder="templates")
