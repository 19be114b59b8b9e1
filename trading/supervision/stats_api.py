"""The statistics JSON and CSV (交易统计)."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("statistics_api", __name__, url_prefix="/api/v1")
