"""The live monitor's JSON: today's and upcoming openings and evaluation rooms, their clocks and warnings."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("monitor_api", __name__, url_prefix="/api/v1")
