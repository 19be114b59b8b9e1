"""The opendata pages."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("opendata", __name__, template_folder="templates")
