"""Archive pages and API for staff and supervisors: list and search, a package with its last
verification, verify now, download, legal hold."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from archive.audit import ActorRef
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.archives import operations as ops
from trading.archives.models import ArchivePackage
from trading.core.checked_download import checked_response
from trading.core.db import Database
from trading.core.errors import DomainError
from trading.core.schemas import Schema
from trading.core.services import services

pages = Blueprint("archives", __name__)
api = Blueprint("archives_api", __name__, url_prefix="/api/v1/archives")


class HoldIn(Schema):
    on: bool
    reason: str


def package_json(p: ArchivePackage) -> dict[str, Any]:
    return {
        "id": p.id,
        "tender_id": p.tender_id,
        "lot_id": p.lot_id,
        "end_state": p.reason,
        "sm3": p.sm3,
        "size": p.size,
        "files": p.files,
        "tree_size": p.tree_size,
        "built_at": p.built_at.isoformat(),
        "retain_until": p.retain_until.isoformat(),
        "legal_hold": p.legal_hold,
        "verified_at": p.verified_at.isoformat() if p.verified_at else None,
        "verified_ok": p.verified_ok,
    }


def _download(p: ArchivePackage) -> Response:
    # The stream outlives the request's session: take what it needs now.
    svc, key, ref, name = services(current_app), p.object_key, p.audit_ref, f"archive-{p.id}-{p.sm3[:12]}.zip"
    user = web.require_user()
    actor = ActorRef(user.actor_id, user.actor_role)
    database: Database = current_app.extensions["ggzy.db"]
    stored = ops.record_download(web.db(), user, p, svc)
    web.commit()

    def damaged(served_sm3: str, served_size: int) -> None:
        with database.session() as s:
            ops.record_damaged_download(s, actor, ref, stored.sm3, served_sm3, served_size)

    return checked_response(
        svc.archive_store.open(key),
        sm3=stored.sm3,
        size=stored.size,
        what=f"archive package {ref[1]}",
        on_damage=damaged,
        mimetype="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@api.get("")
@requires(Permission.ARCHIVE_READ)
def list_api() -> Response:
    rows = ops.search(web.db(), request.args.get("q", "").strip())
    return jsonify({"items": [package_json(p) | {"tender": t.code, "lot": lot.number} for p, t, lot in rows]})


@api.get("/<int:package_id>")
@requires(Permission.ARCHIVE_READ)
def show_api(package_id: int) -> Response:
    p = ops.get_package(web.db(), package_id)
    return jsonify(package_json(p) | {"report": p.report})


@api.get("/<int:package_id>/download")
@requires(Permission.ARCHIVE_READ)
def download_api(package_id: int) -> Response:
    return _download(ops.get_package(web.db(), package_id))


@api.post("/<int:package_id>/verify")
@requires(Permission.ARCHIVE_READ)
def verify_api(package_id: int) -> Response:
    p = ops.get_package(web.db(), package_id)
    report = ops.verify_stored(web.db(), web.require_user(), p, services(current_app))
    web.commit()
    return jsonify(
        {
            "ok": report.ok,
            "checks": [{"check": c.what, "ok": c.ok, "detail": c.detail, "code": c.code} for c in report.checks],
        }
    )


@api.post("/<int:package_id>/legal-hold")
@requires(Permission.ARCHIVE_HOLD)
def hold_api(package_id: int) -> Response:
    data = web.json_body(HoldIn)
    p = ops.get_package(web.db(), package_id)
    ops.set_legal_hold(web.db(), web.require_user(), p, data.on, data.reason, services(current_app))
    web.commit()
    return jsonify(package_json(p))


@api.delete("/<int:package_id>")
@requires(Permission.ARCHIVE_HOLD)
def delete_api(package_id: int) -> Response:
    p = ops.get_package(web.db(), package_id)
    try:
        ops.try_delete(web.db(), web.require_user(), p, services(current_app))
    except DomainError:
        web.commit()  # the refused attempt stays in the trail
        raise
    web.commit()
    return jsonify({"deleted": package_id})


@pages.get("/archives")
@requires(Permission.ARCHIVE_READ)
def list_page() -> str:
    q = request.args.get("q", "").strip()
    return render_template("archives/list.html", rows=ops.search(web.db(), q), q=q)


@pages.get("/archives/<int:package_id>")
@requires(Permission.ARCHIVE_READ)
def detail_page(package_id: int) -> str:
    p = ops.get_package(web.db(), package_id)
    return render_template("archives/detail.html", p=p, hold=web.has_permission(Permission.ARCHIVE_HOLD.value))


@pages.get("/archives/<int:package_id>/download")
@requires(Permission.ARCHIVE_READ)
def download_page(package_id: int) -> Response:
    return _download(ops.get_package(web.db(), package_id))


@pages.post("/archives/<int:package_id>/verify")
@requires(Permission.ARCHIVE_READ)
def verify_page(package_id: int) -> ResponseReturnValue:
    p = ops.get_package(web.db(), package_id)
    report = ops.verify_stored(web.db(), web.require_user(), p, services(current_app))
    web.commit()
    flash("核验通过：档案包完整" if report.ok else f"核验失败：{len(report.failures)} 项问题")
    return redirect(url_for("archives.detail_page", package_id=package_id))


@pages.post("/archives/<int:package_id>/legal-hold")
@requires(Permission.ARCHIVE_HOLD)
def hold_page(package_id: int) -> ResponseReturnValue:
    p = ops.get_package(web.db(), package_id)
    try:
        ops.set_legal_hold(
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
