"""The opendata page (开放数据): what is published, the API, the bulk files, each tender's record."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers.response import Response

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.errors import NotFound
from trading.core.services import services
from trading.opendata import publish
from trading.opendata.vendored import EXTENSIONS, SCHEMA_TAG
from trading.tenders.models import Tender

pages = Blueprint("opendata", __name__, template_folder="templates")


@pages.get("/opendata")
@requires(Permission.PUBLIC)
def index() -> str:
    session = web.db()
    ocids = publish.tender_ocids(session)
    tenders = session.scalars(select(Tender).where(Tender.id.in_(ocids)).order_by(Tender.id.desc())).all()
    return render_template(
        "opendata/index.html",
        rows=[(t, ocids[t.id]) for t in tenders],
        bulk=publish.bulk_files(session),
        prefix=services(current_app).settings.ocds_ocid_prefix,
        schema_version=SCHEMA_TAG.replace("__", "."),
        extensions=list(EXTENSIONS),
    )


@pages.get("/opendata/tenders/<code>")
@requires(Permission.PUBLIC)
def tender_record(code: str) -> Response:
    """The tender's OCDS record, for a link on the tender's page (the ocid prefix is a setting)."""
    ocid = f"{services(current_app).settings.ocds_ocid_prefix}-{code}"
    if len(code) > 32 or not publish.releases_of(web.db(), ocid):
        raise NotFound("该项目尚无开放数据（未发布，或发布后尚未生成）")
    return redirect(url_for("opendata_api.record_of", ocid=ocid))


def tender_page_context(session: Session, tender: Tender) -> dict[str, Any]:
    """What open data adds to the tender page (``trading.tenders.hooks.tender_page_context``): the
    link to the tender's OCDS record, once the sweep has published a release of it."""
    if not publish.has_releases(session, tender.id):
        return {}
    return {"open_data_url": url_for("opendata.tender_record", code=tender.code)}
