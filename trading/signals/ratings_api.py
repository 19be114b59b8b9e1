"""Ratings over the API: experts after an evaluation (标后评价) and the center's services (好差评)."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("ratings_api", __name__, url_prefix="/api/v1")
