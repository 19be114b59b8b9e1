"""The apidocs pages."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("apidocs", __name__, template_folder="templates")
