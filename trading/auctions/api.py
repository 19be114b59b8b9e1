"""(being written)"""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("auctions_api", __name__, url_prefix="/api/v1")
