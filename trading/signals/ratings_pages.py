"""Ratings pages: 标后评价 for staff and tenderees, 好差评 for the people served, public aggregates."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("ratings", __name__, template_folder="templates")
