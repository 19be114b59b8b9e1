"""The portal's JSON API: /api/v1/announcements, the public search of published announcements."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.portal.schemas import AnnouncementSearchQuery, AnnouncementsOut
from trading.portal.search import portal_query, search
from trading.tenders.shapes import announcement_json

api = Blueprint("portal_api", __name__, url_prefix="/api/v1")


@api.get("/announcements")
@requires(Permission.PUBLIC)
@documented(
    "检索已发布的公告", ok=AnnouncementsOut, query=AnnouncementSearchQuery, errors=("bad_integer", "invalid_input")
)
def search_announcements() -> Response:
    pq = portal_query(request.args)
    rows, more = search(web.db(), pq)
    items = [
        announcement_json(a)
        | {
            "tender": {
                "code": t.code,
                "title": t.title,
                "category": t.category.value,
                "region": t.region,
                "status": t.status.value,
            }
        }
        for a, t in rows
    ]
    return jsonify({"items": items, "page": pq.page, "page_size": pq.page_size, "has_more": more})
