"""The trading statistics (交易统计) as pure functions over lot facts, so that the pages, the API,
``ggzy stats`` and its ``--verify`` from a log export all compute every figure with the same code.

A lot counts in the month (Beijing time) in which it concluded (定标、流标 or 终止); the figures
of a group are:

- 项目数 (tenders): distinct tender numbers among its lots; 标段数 (lots);
- 预算金额合计: the sum of the lots' budgets (the lot's 招标控制价/预算, ``Lot.estimated_price``);
- 中标金额合计: the sum of the award prices of the awarded lots;
- 节资率 (savings rate), defined once here (``savings_rate``): (中标标段预算合计 − 中标金额合计) ÷
  中标标段预算合计, over the awarded lots only, so a failed lot's budget does not count as saved;
- 流标率 (failure rate): 流标标段数 ÷ (定标标段数 + 流标标段数); a terminated lot neither;
- 平均投标数 (bids per lot): bids read at the opening, over the lots whose opening states them;
- 平均定标天数: days from the tender's announcement to the award, over the awarded lots.

Money is Decimal throughout; ratios and averages are exact Decimals, rounded only for display.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from trading.accounts.regions import region_name
from trading.core.formats import decimal_text, month_of
from trading.tenders.models import CATEGORY_LABELS, TenderCategory

DIMENSIONS = ("category", "procedure", "region", "month")
DIMENSION_LABELS = {"category": "交易类别", "procedure": "交易方式", "region": "地区", "month": "月份"}
SOURCES = ("all", "trail", "generated")
SOURCE_LABELS = {"all": "全部", "trail": "审计日志", "generated": "演示生成数据"}
ZERO = Decimal(0)
DAY = Decimal(86400)

SAVINGS_FORMULA = "节资率 =（中标标段预算金额合计 − 中标金额合计）÷ 中标标段预算金额合计 × 100%"
SAVINGS_SOURCE = (
    "口径：只计已定标的标段（流标、终止的标段不计入分子和分母）；预算金额为标段的招标控制价（预算），"
    "中标金额为定标事件（标段定标）中的中标价。页面、接口、CSV 与 JSON 下载以及命令行核验"
    "用同一公式计算。"
)
FAILURE_FORMULA = "流标率 = 流标标段数 ÷（定标标段数 + 流标标段数）× 100%（终止的标段不计）"
BIDS_FORMULA = "平均投标数 = 开标时读出的投标数合计 ÷ 有开标记录的标段数"
DAYS_FORMULA = "平均定标天数 = Σ（定标时间 − 招标公告发布时间）÷ 定标标段数"


@dataclass(frozen=True, slots=True)
class Fact:
    """One concluded lot as the statistics count it (a ``LotFact`` row, or a ``stats.lot_fact`` payload)."""

    source: str
    lot_key: str
    category: str
    procedure: str
    region: str
    announced_at: dt.datetime
    concluded_at: dt.datetime | None
    outcome: str
    budget: Decimal
    award_amount: Decimal | None
    bids: int | None

    @property
    def tender(self) -> str:
        return self.lot_key.partition("/")[0]


def savings_rate(awarded_budget: Decimal, award: Decimal) -> Decimal | None:
    """节资率 = (budget − award) / budget over the awarded lots (None without any budget): the one
    definition every figure uses."""
    if awarded_budget <= 0:
        return None
    return (awarded_budget - award) / awarded_budget


def fact_month(f: Fact) -> str:
    """The month a lot counts in: that of its conclusion (its announcement if it has none)."""
    return month_of(f.concluded_at or f.announced_at)


@dataclass
class Row:
    """The figures of one group (or of all, the total): sums and counts, the ratios derived."""

    key: str
    label: str = ""
    tenders: int = 0
    lots: int = 0
    awarded: int = 0
    failed: int = 0
    terminated: int = 0
    budget: Decimal = ZERO
    award: Decimal = ZERO
    awarded_budget: Decimal = ZERO
    bids: int = 0
    bid_lots: int = 0
    award_time: dt.timedelta = dt.timedelta(0)
    generated: int = 0

    @property
    def savings_rate(self) -> Decimal | None:
        return savings_rate(self.awarded_budget, self.award)

    @property
    def failure_rate(self) -> Decimal | None:
        ended = self.awarded + self.failed
        return Decimal(self.failed) / ended if ended else None

    @property
    def average_bids(self) -> Decimal | None:
        return Decimal(self.bids) / self.bid_lots if self.bid_lots else None

    @property
    def average_days(self) -> Decimal | None:
        if not self.awarded:
            return None
        t = self.award_time
        seconds = Decimal(t.days * 86400 + t.seconds) + Decimal(t.microseconds) / 1_000_000
        return seconds / DAY / self.awarded

    @property
    def source(self) -> str:
        """trail, generated, or mixed: where the row's lots come from."""
        if self.generated == 0:
            return "trail"
        return "generated" if self.generated == self.lots else "mixed"

    def figures(self) -> tuple[Any, ...]:
        """What two computations must agree on (``--verify``): every sum and count."""
        return (
            self.key,
            self.tenders,
            self.lots,
            self.awarded,
            self.failed,
            self.terminated,
            self.budget,
            self.award,
            self.awarded_budget,
            self.bids,
            self.bid_lots,
            self.award_time,
            self.generated,
        )


@dataclass
class Table:
    dimension: str
    rows: list[Row]
    total: Row
    generated: int = field(default=0)


# ---------------------------------------------------------------- the arithmetic
# per group: lots, awarded, failed, terminated, budget, award, awarded budget, bids, bid lots,
# award time, generated; and the set of tender numbers
_LOTS, _AWARDED, _FAILED, _TERMINATED, _BUDGET, _AWARD, _ABUDGET, _BIDS, _BIDLOTS, _TIME, _GEN = range(11)


def _new() -> list[Any]:
    return [0, 0, 0, 0, ZERO, ZERO, ZERO, 0, 0, dt.timedelta(0), 0]


def _add(acc: list[Any], f: Fact) -> None:
    acc[_LOTS] += 1
    acc[_BUDGET] += f.budget
    if f.outcome == "awarded":
        acc[_AWARDED] += 1
        acc[_AWARD] += f.award_amount or ZERO
        acc[_ABUDGET] += f.budget
        if f.concluded_at is not None:
            acc[_TIME] += f.concluded_at - f.announced_at
    elif f.outcome == "failed":
        acc[_FAILED] += 1
    else:
        acc[_TERMINATED] += 1
    if f.bids is not None:
        acc[_BIDS] += f.bids
        acc[_BIDLOTS] += 1
    if f.source == "generated":
        acc[_GEN] += 1


def _merge(into: list[Any], acc: list[Any]) -> None:
    for i, v in enumerate(acc):
        into[i] += v


def _row(key: str, acc: list[Any], tenders: set[str]) -> Row:
    return Row(
        key,
        "",
        len(tenders),
        acc[_LOTS],
        acc[_AWARDED],
        acc[_FAILED],
        acc[_TERMINATED],
        acc[_BUDGET],
        acc[_AWARD],
        acc[_ABUDGET],
        acc[_BIDS],
        acc[_BIDLOTS],
        acc[_TIME],
        acc[_GEN],
    )


def tables(facts: Iterable[Fact], procedures: Mapping[str, str] | None = None) -> dict[str, Table]:
    """Every dimension's table in one pass over ``facts``: grouped first by (category, procedure,
    region, month), then rolled up into each dimension and the total."""
    groups: dict[tuple[str, str, str, str], tuple[list[Any], set[str]]] = {}
    months: dict[tuple[int, int, int], str] = {}  # Beijing month by UTC hour: few distinct
    for f in facts:
        at = f.concluded_at or f.announced_at
        hour = (at.year, at.month, at.day * 24 + at.hour)
        month = months.get(hour)
        if month is None:
            month = months[hour] = month_of(at)
        k = (f.category, f.procedure, f.region, month)
        g = groups.get(k)
        if g is None:
            g = groups[k] = (_new(), set())
        _add(g[0], f)
        g[1].add(f.lot_key.partition("/")[0])
    out: dict[str, Table] = {}
    total_acc, total_tenders = _new(), set[str]()
    for acc, tenders in groups.values():
        _merge(total_acc, acc)
        total_tenders |= tenders
    total = _row("total", total_acc, total_tenders)
    total.label = "合计"
    for i, dimension in enumerate(DIMENSIONS):
        rolled: dict[str, tuple[list[Any], set[str]]] = {}
        for k, (acc, tenders) in groups.items():
            r = rolled.get(k[i])
            if r is None:
                r = rolled[k[i]] = (_new(), set())
            _merge(r[0], acc)
            r[1].update(tenders)
        rows = [_row(key, acc, tenders) for key, (acc, tenders) in rolled.items()]
        for row in rows:
            row.label = label(dimension, row.key, procedures or {})
        if dimension == "month":
            rows.sort(key=lambda r: r.key)
        else:
            rows.sort(key=lambda r: (-r.lots, r.key))
        out[dimension] = Table(dimension, rows, total, total.generated)
    return out


def label(dimension: str, key: str, procedures: Mapping[str, str]) -> str:
    """A group's key in words: the category's, the procedure's (``procedures``: code → name), the
    region's GB/T 2260 name, or the month; an unknown key is shown as itself."""
    if dimension == "category":
        try:
            return CATEGORY_LABELS[TenderCategory(key)]
        except ValueError:
            return key
    if dimension == "procedure":
        return procedures.get(key, key)
    if dimension == "region":
        return region_name(key)
    year, _, month = key.partition("-")
    return f"{year}年{int(month)}月" if month.isdigit() else key


# ---------------------------------------------------------------- display
def percent(value: Decimal | None) -> str:
    """A ratio for people: a percentage with two decimals ("—" without one)."""
    if value is None:
        return "—"
    return f"{(value * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"


def ratio(value: Decimal | None) -> str | None:
    """A ratio for machines (JSON, CSV): six decimals, as a string."""
    return None if value is None else decimal_text(value, 6)


COLUMNS: tuple[tuple[str, str], ...] = (
    ("key", "分组代码"),
    ("label", "分组"),
    ("source", "数据来源"),
    ("tenders", "项目数"),
    ("lots", "标段数"),
    ("awarded", "定标标段数"),
    ("failed", "流标标段数"),
    ("terminated", "终止标段数"),
    ("budget", "预算金额合计（元）"),
    ("award", "中标金额合计（元）"),
    ("awarded_budget", "中标标段预算合计（元）"),
    ("savings_rate", "节资率"),
    ("failure_rate", "流标率"),
    ("average_bids", "平均投标数"),
    ("average_days", "平均定标天数"),
    ("generated_lots", "其中演示生成标段数"),
)


def row_json(row: Row) -> dict[str, Any]:
    """A row for the JSON and CSV downloads: money as strings with two decimals, ratios with six."""
    return {
        "key": row.key,
        "label": row.label,
        "source": row.source,
        "tenders": row.tenders,
        "lots": row.lots,
        "awarded": row.awarded,
        "failed": row.failed,
        "terminated": row.terminated,
        "budget": decimal_text(row.budget),
        "award": decimal_text(row.award),
        "awarded_budget": decimal_text(row.awarded_budget),
        "savings_rate": ratio(row.savings_rate),
        "failure_rate": ratio(row.failure_rate),
        "average_bids": ratio(row.average_bids),
        "average_days": ratio(row.average_days),
        "generated_lots": row.generated,
    }


def table_json(t: Table, filters: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "dimension": t.dimension,
        "dimension_label": DIMENSION_LABELS[t.dimension],
        "filters": dict(filters),
        "formulas": {
            "savings_rate": SAVINGS_FORMULA,
            "savings_rate_source": SAVINGS_SOURCE,
            "failure_rate": FAILURE_FORMULA,
            "average_bids": BIDS_FORMULA,
            "average_days": DAYS_FORMULA,
        },
        "generated_lots": t.generated,
        "rows": [row_json(r) for r in t.rows],
        "total": row_json(t.total),
    }
