"""The complaints JSON API (投诉): file, accept or refuse, suspend and resume, statements, decide."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("complaints_api", __name__, url_prefix="/api/v1")
