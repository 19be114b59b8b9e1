"""The exchange JSON API."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("exchange_api", __name__, url_prefix="/api/v1")
