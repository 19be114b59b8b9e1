"""(being written)"""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("auctions", __name__, template_folder="templates")
