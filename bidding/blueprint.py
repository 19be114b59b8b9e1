"""Bidder pages. Sealing happens on the bidder's own machine with ``ggzy-bid``, never here."""

from __future__ import annotations

from flask import Blueprint, render_template

from trading.permissions import Permission, requires

bp = Blueprint("bidding", __name__, template_folder="templates")


@bp.get("/bidder/tool")
@requires(Permission.PUBLIC)
def tool_help() -> str:
    """How to install and use ggzy-bid (public: bidders read it before they register)."""
    return render_template("bidding/tool.html")
