"""The statistics pages (交易统计) with their server-drawn charts, and the CSV and JSON download of
each table. Generated demo history is marked on every page that shows it."""

from __future__ import annotations

import json
from decimal import Decimal

from flask import Blueprint, Response, render_template, request
from markupsafe import Markup

from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.charts import COLOURS, Point, bar_chart, line_chart, svg
from trading.core.formats import decimal_text
from trading.supervision import statistics, stats_queries
from trading.supervision.statistics import DIMENSION_LABELS, SOURCE_LABELS, Table
from trading.supervision.stats_api import csv_bytes, download_name, read_filters, table_for

pages = Blueprint("statistics", __name__, template_folder="templates")


def charts_of(t: Table) -> list[tuple[str, Markup]]:
    """Two charts of a table: the award amounts and the savings rate by group (bars), or for the
    months the award amounts and the number of lots over time (lines)."""
    amounts = [Point(r.label, r.award / 10_000, f"{decimal_text(r.award / 10_000)} 万元") for r in t.rows]
    if t.dimension == "month":
        lots = [Point(r.label, Decimal(r.lots), f"{r.lots} 个标段") for r in t.rows]
        return [
            ("各月中标金额（万元）", svg(line_chart("各月中标金额（万元）", amounts), "chart-amount")),
            ("各月结束的标段数", svg(line_chart("各月结束的标段数", lots, COLOURS[1]), "chart-lots")),
        ]
    rates = [
        Point(r.label, (r.savings_rate or statistics.ZERO) * 100, statistics.percent(r.savings_rate))
        for r in t.rows
        if r.savings_rate is not None
    ]
    name = DIMENSION_LABELS[t.dimension]
    return [
        (f"各{name}中标金额（万元）", svg(bar_chart(f"各{name}中标金额（万元）", amounts), "chart-amount")),
        (f"各{name}节资率（%）", svg(bar_chart(f"各{name}节资率（%）", rates, COLOURS[1]), "chart-savings")),
    ]


@pages.get("/supervision/statistics")
@requires(Permission.SUPERVISION_READ)
def statistics_page() -> str:
    f = read_filters(request.args)
    db = web.db()
    t = table_for(db, f)
    return render_template(
        "supervision/stats.html",
        t=t,
        f=f,
        charts=charts_of(t),
        dimensions=DIMENSION_LABELS,
        sources=SOURCE_LABELS,
        years=stats_queries.fact_years(db),
        s=statistics,
        decimal_text=decimal_text,
    )


@pages.get("/supervision/statistics.csv")
@requires(Permission.SUPERVISION_READ)
def statistics_csv() -> Response:
    f = read_filters(request.args)
    return Response(
        csv_bytes(table_for(web.db(), f)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{download_name(f, "csv")}"'},
    )


@pages.get("/supervision/statistics.json")
@requires(Permission.SUPERVISION_READ)
def statistics_download() -> Response:
    f = read_filters(request.args)
    body = json.dumps(statistics.table_json(table_for(web.db(), f), f.as_dict()), ensure_ascii=False, indent=1)
    return Response(
        body.encode("utf-8"),
        mimetype="application/json",
        headers={"Content-Disposition": f'attachment; filename="{download_name(f, "json")}"'},
    )
