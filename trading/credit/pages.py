"""The credit register's pages for staff and supervisors (信用记录管理)."""

from __future__ import annotations

from flask import Blueprint

pages = Blueprint("credit", __name__, template_folder="templates")
