"""The exchange pages."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("exchange", __name__, template_folder="templates")
