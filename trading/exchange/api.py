"""The exchange JSON API for staff and supervisors: the national records and their push state."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.services import services
from trading.exchange.schemas import ExchangeRecordDetailOut, ExchangeRecordsOut, RecordsQuery
from trading.exchange.status import get_record, listing, record_json

api = Blueprint("exchange_api", __name__, url_prefix="/api/v1")


def page_arg() -> int:
    """The page asked for: a named 422 for anything but a whole number within what the query can
    offset (SQLite overflows past 2**63, a 500)."""
    return web.query_int("page", 1, minimum=1, maximum=10_000_000)


@api.get("/exchange/records")
@requires(Permission.AUDIT_READ)
@documented(
    "数据交换记录及其推送状态（最新在前）", ok=ExchangeRecordsOut, query=RecordsQuery, errors=("invalid_input",)
)
def records() -> Response:
    """全国公共资源交易数据交换记录：已推送、待推送、失败待重试（含下次推送时间）、被拒收（含接收端的错误代码）。"""
    rows, counts = listing(web.db(), request.args.get("state") or None, request.args.get("tender") or None, page_arg())
    return jsonify(
        {
            "counts": counts,
            "push_url": bool(services(current_app).settings.exchange_push_url),
            "records": [record_json(r) for r in rows],
        }
    )


@api.get("/exchange/records/<int:record_id>")
@requires(Permission.AUDIT_READ)
@documented("一条数据交换记录及其推送的信封", ok=ExchangeRecordDetailOut)
def record(record_id: int) -> Response:
    return jsonify(record_json(get_record(web.db(), record_id), envelope=True))
