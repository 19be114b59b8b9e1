"""The tenderee's claim: API and page (the form sits on the lot's guarantee page)."""

from __future__ import annotations

from flask import Blueprint, Response, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from pydantic import Field

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.awards.claims import file_claim
from trading.core.errors import DomainError
from trading.core.schemas import Schema

api = Blueprint("claims_api", __name__, url_prefix="/api/v1")
pages = Blueprint("claims", __name__)


class ClaimIn(Schema):
    ground: str = Field(max_length=40)
    statement: str = Field(max_length=4000)


@api.post("/guarantees/<int:guarantee_id>/claims")
@requires(Permission.TENDER_MANAGE)
def claim(guarantee_id: int) -> tuple[Response, int]:
    data = web.json_body(ClaimIn)
    c = file_claim(web.db(), web.require_user(), guarantee_id, data.ground, data.statement)
    web.commit()
    return jsonify({"id": c.id, "state": c.state.value, "evidence": c.evidence}), 201


@pages.post("/guarantees/<int:guarantee_id>/claims")
@requires(Permission.TENDER_MANAGE)
def claim_page(guarantee_id: int) -> ResponseReturnValue:
    try:
        data = web.form_body(ClaimIn)
        file_claim(web.db(), web.require_user(), guarantee_id, data.ground, data.statement)
        web.commit()
        flash("索赔已提交，平台已转交出具机构")
    except DomainError as exc:
        web.db().rollback()
        flash(f"未提交：{exc.message}")
    back = request.referrer or ""
    return redirect(back if back.startswith(request.host_url) else url_for("home.index"))
