"""The complaint pages (投诉): the complainant's, the parties' and the supervisor's."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("complaints", __name__, template_folder="templates")
