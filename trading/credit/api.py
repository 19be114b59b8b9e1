"""The credit register's API (信用记录): entries, imports and pushes, checks, proposals."""

from __future__ import annotations

from flask import Blueprint

api = Blueprint("credit_api", __name__, url_prefix="/api/v1")
