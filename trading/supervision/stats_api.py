"""The statistics JSON and CSV (交易统计): the tables of ``trading.supervision.statistics`` with
their filters read here once for the API, the pages and their downloads."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import InvalidInput
from trading.procedures.models import ProcedureType
from trading.supervision import statistics, stats_queries
from trading.supervision.monitor_schemas import StatisticsOut, StatisticsQuery
from trading.supervision.statistics import COLUMNS, DIMENSIONS, SOURCES, Table

api = Blueprint("statistics_api", __name__, url_prefix="/api/v1")
YEARS = (2000, 2100)
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


@dataclass(frozen=True)
class Filters:
    by: str = "category"
    year: int | None = None
    source: str = "all"

    def as_dict(self) -> dict[str, Any]:
        return {"by": self.by, "year": self.year, "source": self.source}


def read_filters(args: Mapping[str, str]) -> Filters:
    """The query's dimension, year and source, each within its bounds, or a named 422 (``stats_filter``)."""
    by = args.get("by") or "category"
    source = args.get("source") or "all"
    raw_year = (args.get("year") or "").strip()
    fields: dict[str, str] = {}
    if by not in DIMENSIONS:
        fields["by"] = "应为 " + "、".join(DIMENSIONS)
    if source not in SOURCES:
        fields["source"] = "应为 " + "、".join(SOURCES)
    year: int | None = None
    if raw_year:
        if raw_year.isascii() and raw_year.isdigit() and len(raw_year) == 4 and YEARS[0] <= int(raw_year) <= YEARS[1]:
            year = int(raw_year)
        else:
            fields["year"] = f"应为 {YEARS[0]}–{YEARS[1]} 之间的年份"
    if fields:
        raise InvalidInput("统计的筛选条件无效", code="stats_filter", fields=fields)
    return Filters(by, year, source)


def procedure_names(session: Session) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(ProcedureType.code, ProcedureType.name))}


def table_for(session: Session, f: Filters) -> Table:
    """The table the filters ask for, aggregated by the database."""
    return stats_queries.compute(session, f.year, f.source, procedure_names(session))[f.by]


def cell(value: Any) -> str:
    """A CSV cell that a spreadsheet will not run: text beginning with = + - @ (or a tab or carriage
    return) is prefixed with an apostrophe; a plain number (a negative savings rate) stays a number."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r" and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_bytes(t: Table) -> bytes:
    """The table as CSV: UTF-8 with a BOM (spreadsheets then read the Chinese right), a header of
    Chinese column names, one line per group and the total last."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([name for _, name in COLUMNS])
    for row in [*t.rows, t.total]:
        data = statistics.row_json(row)
        w.writerow([cell(data[key]) for key, _ in COLUMNS])
    return "\ufeff".encode() + out.getvalue().encode("utf-8")


def download_name(f: Filters, ext: str) -> str:
    return f"statistics-{f.by}{'-' + str(f.year) if f.year else ''}-{f.source}.{ext}"


@api.get("/supervision/statistics")
@requires(Permission.SUPERVISION_READ)
@documented(
    "交易统计：按交易类别、交易方式、地区或月份的项目数、标段数、金额、节资率、流标率等",
    ok=StatisticsOut,
    query=StatisticsQuery,
    errors=("stats_filter",),
)
def statistics_json() -> Response:
    """每个分组标明数据来源（source）；演示生成的数据不在审计日志中（generated_lots）。"""
    f = read_filters(request.args)
    return jsonify(statistics.table_json(table_for(web.db(), f), f.as_dict()))
