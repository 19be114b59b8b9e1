"""The supervision JSON API: the time-limit rules (read, edit as a new version) and the warnings."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("supervision_api", __name__, url_prefix="/api/v1")
