"""The archive's JSON API for staff and supervisors (``/api/v1/archives``): list and search, a
package with its last verification, verify now, download, legal hold, delete (refused while
retained)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from archive.audit import ActorRef
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.archives import custody
from trading.archives.models import ArchivePackage
from trading.archives.schemas import (
    ArchiveSearchQuery,
    DeletedOut,
    HoldIn,
    PackageOut,
    PackageReportOut,
    PackagesOut,
    VerifiedOut,
)
from trading.core.apispec import documented
from trading.core.checked_download import checked_response
from trading.core.db import Database
from trading.core.errors import DomainError
from trading.core.services import services

api = Blueprint("archives_api", __name__, url_prefix="/api/v1/archives")


def package_json(p: ArchivePackage) -> dict[str, Any]:
    return {
        "id": p.id,
        "tender_id": p.tender_id,
        "lot_id": p.lot_id,
        "auction_id": p.auction_id,
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


def package_download(p: ArchivePackage) -> Response:
    """The package streamed to a reader whose read is recorded first (``record_download``); bytes
    that do not hash to the stored SM3 break the transfer and are recorded as damage."""
    # The stream outlives the request's session: take what it needs now.
    svc, key, ref, name = services(current_app), p.object_key, p.audit_ref, f"archive-{p.id}-{p.sm3[:12]}.zip"
    user = web.require_user()
    actor = ActorRef(user.actor_id, user.actor_role)
    database: Database = current_app.extensions["ggzy.db"]
    stored = custody.record_download(web.db(), user, p, svc)
    web.commit()

    def damaged(served_sm3: str, served_size: int) -> None:
        with database.session() as s:
            custody.record_damaged_download(s, actor, ref, stored.sm3, served_sm3, served_size)

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
@documented("档案包列表与检索", ok=PackagesOut, query=ArchiveSearchQuery)
def list_api() -> Response:
    rows = custody.search(web.db(), request.args.get("q", "").strip())
    return jsonify(
        {
            "items": [
                package_json(p)
                | {
                    "tender": t.code if t else None,
                    "lot": lot.number if lot else None,
                    "auction": a.code if a else None,
                }
                for p, t, lot, a in rows
            ]
        }
    )


@api.get("/<int:package_id>")
@requires(Permission.ARCHIVE_READ)
@documented("查看档案包及最近一次核验", ok=PackageReportOut)
def show_api(package_id: int) -> Response:
    p = custody.get_package(web.db(), package_id)
    return jsonify(package_json(p) | {"report": p.report})


@api.get("/<int:package_id>/download")
@requires(Permission.ARCHIVE_READ)
@documented("下载档案包（zip，传输中校验 SM3）", ok="application/zip", errors=("object_missing",))
def download_api(package_id: int) -> Response:
    return package_download(custody.get_package(web.db(), package_id))


@api.post("/<int:package_id>/verify")
@requires(Permission.ARCHIVE_READ)
@documented("立即核验档案包", ok=VerifiedOut)
def verify_api(package_id: int) -> Response:
    p = custody.get_package(web.db(), package_id)
    report = custody.verify_stored(web.db(), web.require_user(), p, services(current_app))
    web.commit()
    return jsonify(
        {
            "ok": report.ok,
            "checks": [{"check": c.what, "ok": c.ok, "detail": c.detail, "code": c.code} for c in report.checks],
        }
    )


@api.post("/<int:package_id>/legal-hold")
@requires(Permission.ARCHIVE_HOLD)
@documented(
    "设置或解除法律保留",
    body=HoldIn,
    ok=PackageOut,
    errors=("conflict",),
    example={"on": True, "reason": "（2027）闽 01 行初 12 号诉讼"},
)
def hold_api(package_id: int) -> Response:
    data = web.json_body(HoldIn)
    p = custody.get_package(web.db(), package_id)
    custody.set_legal_hold(web.db(), web.require_user(), p, data.on, data.reason, services(current_app))
    web.commit()
    return jsonify(package_json(p))


@api.delete("/<int:package_id>")
@requires(Permission.ARCHIVE_HOLD)
@documented("删除档案包（保留期内或法律保留时拒绝）", ok=DeletedOut, errors=("retained",))
def delete_api(package_id: int) -> Response:
    p = custody.get_package(web.db(), package_id)
    try:
        custody.try_delete(web.db(), web.require_user(), p, services(current_app))
    except DomainError:
        web.commit()  # the refused attempt stays in the trail
        raise
    web.commit()
    return jsonify({"deleted": package_id})
