"""The supervision JSON API: the time-limit rules (read, edit as a new version) and the warnings."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from archive import clock
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.supervision.rulebook import change_rule
from trading.supervision.schemas import RuleChangeIn, RuleHistoryOut, RulesOut, WarningOut, WarningsOut, WarningsQuery
from trading.supervision.warnings import (
    PAGE_MAX,
    list_warnings,
    parse_colour,
    parse_rule,
    parse_tender,
    rule_histories,
    rule_history,
    warning_detail,
)

api = Blueprint("supervision_api", __name__, url_prefix="/api/v1")


def warnings_page() -> dict[str, object]:
    """The warnings the query string asks for (the API and the page alike)."""
    db = web.db()
    colour = parse_colour(request.args.get("colour"))
    rule = parse_rule(db, request.args.get("rule"))
    tender = parse_tender(request.args.get("tender"))
    page = web.query_int("page", 1, minimum=1, maximum=PAGE_MAX)
    found = list_warnings(db, clock.now(), colour=colour, rule=rule, tender=tender, page=page)
    return {
        "items": [v.to_json() for v in found.items],
        "total": found.total,
        "page": found.page,
        "per_page": found.per_page,
    }


@api.get("/supervision/warnings")
@requires(Permission.SUPERVISION_READ)
@documented(
    "时限预警（黄灯预警、红灯追责）",
    ok=WarningsOut,
    query=WarningsQuery,
    errors=("unknown_colour", "unknown_rule", "bad_integer", "invalid_input"),
)
def warnings() -> Response:
    """计时颜色按请求时刻计算；红灯在超期办结后仍保留。"""
    return jsonify(warnings_page())


@api.get("/supervision/warnings/<int:clock_id>")
@requires(Permission.SUPERVISION_READ)
@documented("一条时限预警：规则（引用条文）与起止事件及其包含证明", ok=WarningOut)
def warning(clock_id: int) -> Response:
    return jsonify(warning_detail(web.db(), clock_id, clock.now()))


@api.get("/supervision/rules")
@requires(Permission.SUPERVISION_READ)
@documented("监督规则（时限）及其全部版本", ok=RulesOut)
def rules() -> Response:
    return jsonify({"items": [h.to_json() for h in rule_histories(web.db())]})


@api.post("/supervision/rules/<code>")
@requires(Permission.SUPERVISION_RULES)
@documented(
    "修改监督规则（新增一个版本，自此对新开始的计时生效）",
    body=RuleChangeIn,
    ok=RuleHistoryOut,
    status=201,
    errors=("unknown_rule", "rule_unchanged", "bad_limit"),
    example={"limit_value": 2, "yellow_value": 1, "reason": "本地区规定审核时限为2个工作日"},
)
def change(code: str) -> tuple[Response, int]:
    data = web.json_body(RuleChangeIn)
    db = web.db()
    change_rule(db, web.require_user(), code, data.model_dump(exclude={"reason"}, exclude_none=True), data.reason)
    web.commit()
    return jsonify(rule_history(db, code).to_json()), 201
