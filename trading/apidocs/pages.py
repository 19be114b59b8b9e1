"""The apidocs pages: the API's reference, read from the same OpenAPI document the API serves."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template

from trading.accounts.permissions import Permission, requires
from trading.apidocs.document import build
from trading.apidocs.reference import reference

pages = Blueprint("apidocs", __name__, template_folder="templates")


@pages.get("/developers/api")
@requires(Permission.PUBLIC)
def reference_page() -> str:
    return render_template("apidocs/reference.html", ref=reference(build(current_app)))
