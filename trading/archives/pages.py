"""The archive's pages for staff and supervisors: list and search, a package with its last
verification, verify now, download, legal hold."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.archives import custody
from trading.archives.api import package_download
from trading.auctions.models import Auction
from trading.core.errors import DomainError
from trading.core.services import services
from trading.tenders.models import Lot, Tender

pages = Blueprint("archives", __name__, template_folder="templates")


@pages.get("/archives")
@requires(Permission.ARCHIVE_READ)
def list_page() -> str:
    q = request.args.get("q", "").strip()
    return render_template("archives/list.html", rows=custody.search(web.db(), q), q=q)


@pages.get("/archives/<int:package_id>")
@requires(Permission.ARCHIVE_READ)
def detail_page(package_id: int) -> str:
    db = web.db()
    p = custody.get_package(db, package_id)
    tender = db.get(Tender, p.tender_id) if p.tender_id is not None else None
    lot = db.get(Lot, p.lot_id) if p.lot_id is not None else None
    auction = db.get(Auction, p.auction_id) if p.auction_id is not None else None
    hold = web.has_permission(Permission.ARCHIVE_HOLD.value)
    return render_template("archives/detail.html", p=p, tender=tender, lot=lot, auction=auction, hold=hold)


@pages.get("/archives/<int:package_id>/download")
@requires(Permission.ARCHIVE_READ)
def download_page(package_id: int) -> Response:
    return package_download(custody.get_package(web.db(), package_id))


@pages.post("/archives/<int:package_id>/verify")
@requires(Permission.ARCHIVE_READ)
def verify_page(package_id: int) -> ResponseReturnValue:
    p = custody.get_package(web.db(), package_id)
    report = custody.verify_stored(web.db(), web.require_user(), p, services(current_app))
    web.commit()
    flash("核验通过：档案包完整" if report.ok else f"核验失败：{len(report.failures)} 项问题")
    return redirect(url_for("archives.detail_page", package_id=package_id))


@pages.post("/archives/<int:package_id>/legal-hold")
@requires(Permission.ARCHIVE_HOLD)
def hold_page(package_id: int) -> ResponseReturnValue:
    p = custody.get_package(web.db(), package_id)
    try:
        custody.set_legal_hold(
            web.db(),
            web.require_user(),
            p,
            request.form.get("on") == "1",
            request.form.get("reason", ""),
            services(current_app),
        )
        web.commit()
        flash("已设置法律保留" if p.legal_hold else "已解除法律保留")
    except DomainError as exc:
        web.db().rollback()
        flash(f"未执行：{exc.message}")
    return redirect(url_for("archives.detail_page", package_id=package_id))
