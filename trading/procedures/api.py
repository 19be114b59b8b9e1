"""The procedures JSON API: /api/v1/procedures (public) and the holiday table /api/v1/holidays."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, Response, jsonify

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import InvalidInput
from trading.procedures import operations as procs
from trading.procedures.schemas import HolidayIn, HolidaysOut, ProceduresOut

api = Blueprint("procedures_api", __name__, url_prefix="/api/v1")


def _day(day: str) -> dt.date:
    try:
        return dt.date.fromisoformat(day)
    except ValueError:
        raise InvalidInput("日期格式应为 YYYY-MM-DD") from None


@api.get("/procedures")
@requires(Permission.PUBLIC)
@documented("招标方式及其法定期限", ok=ProceduresOut)
def list_procedures() -> Response:
    return jsonify(
        {
            "items": [
                {
                    "code": p.code,
                    "name": p.name,
                    "day_kind": p.day_kind.value,
                    "min_bid_days": p.min_bid_days,
                    "amendment_lead_days": p.amendment_lead_days,
                    "amendment_policy": p.amendment_policy.value,
                    "min_valid_bids": p.min_valid_bids,
                    "publicity_days": p.publicity_days,
                    "source": p.source,
                }
                for p in procs.list_procedures(web.db())
            ]
        }
    )


@api.get("/holidays")
@requires(Permission.PUBLIC)
@documented("节假日与调休表", ok=HolidaysOut)
def list_holidays() -> Response:
    rows = procs.list_holidays(web.db())
    return jsonify({"items": [{"day": h.day.isoformat(), "is_workday": h.is_workday, "name": h.name} for h in rows]})


@api.put("/holidays/<day>")
@requires(Permission.CALENDAR_MANAGE)
@documented(
    "设置一天为节假日或调休上班日",
    body=HolidayIn,
    errors=("bad_date", "invalid_input"),
    example={"is_workday": False, "name": "元旦"},
)
def put_holiday(day: str) -> tuple[Response, int]:
    data = web.json_body(HolidayIn)
    procs.set_holiday(web.db(), web.require_user(), _day(day), data.is_workday, data.name)
    web.commit()
    return jsonify({"ok": True}), 200


@api.delete("/holidays/<day>")
@requires(Permission.CALENDAR_MANAGE)
@documented("删除节假日表中的一天", errors=("bad_date", "invalid_input"))
def delete_holiday(day: str) -> tuple[Response, int]:
    procs.delete_holiday(web.db(), web.require_user(), _day(day))
    web.commit()
    return jsonify({"ok": True}), 200
