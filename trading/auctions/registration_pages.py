"""(being written)"""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("auction_registrations", __name__, template_folder="templates")
