"""The supervisors' live monitor (实时监控)."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("monitor", __name__, template_folder="templates")
