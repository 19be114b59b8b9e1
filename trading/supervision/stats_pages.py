"""The statistics pages (交易统计) with their server-drawn charts."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("statistics", __name__, template_folder="templates")
