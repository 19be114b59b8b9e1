"""The statistics as the database computes them (the server's path, one GROUP BY per dimension) and
the facts read from it (the path ``--verify`` compares with); ``statistics.tables`` is the same
arithmetic in Python, and a test holds the two equal figure by figure."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, case, distinct, func, select
from sqlalchemy.orm import Session

from archive import clock
from trading.supervision.models import FactSource, LotFact
from trading.supervision.statistics import (
    Fact,
    Row,
    Table,
    label,
)


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """A Beijing calendar year as UTC instants [start, end)."""
    start = dt.datetime(year, 1, 1, tzinfo=clock.SHANGHAI).astimezone(dt.UTC)
    return start, dt.datetime(year + 1, 1, 1, tzinfo=clock.SHANGHAI).astimezone(dt.UTC)


def load_facts(session: Session, year: int | None = None, source: str = "all") -> list[Fact]:
    """The facts the statistics count: one scan of ``supervision_lot_fact`` (plain columns, no ORM
    objects), the year (Beijing, of the conclusion) and source filtered in SQL."""
    q = select(
        LotFact.source,
        LotFact.lot_key,
        LotFact.category,
        LotFact.procedure_code,
        LotFact.region,
        LotFact.announced_at,
        LotFact.concluded_at,
        LotFact.outcome,
        LotFact.budget,
        LotFact.award_amount,
        LotFact.bids,
    )
    q = q.where(*_filtered(session, year, source))
    return [
        Fact(
            s.value if isinstance(s, FactSource) else str(s),
            key,
            cat,
            proc,
            reg,
            clock.as_utc(ann),
            clock.as_utc(con) if con is not None else None,
            out,
            Decimal(budget),
            Decimal(award) if award is not None else None,
            bids,
        )
        for s, key, cat, proc, reg, ann, con, out, budget, award, bids in session.execute(q)
    ]


def _filtered(session: Session, year: int | None, source: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if source != "all":
        where.append(LotFact.source == FactSource(source))
    if year is not None:
        start, end = year_bounds(year)
        when = func.coalesce(LotFact.concluded_at, LotFact.announced_at)
        where += [when >= start, when < end]
    return where


def _group_keys(session: Session) -> dict[str, Any]:
    """Each dimension's key as SQL, the month in Beijing time and the tender number from the lot key
    as ``fact_month`` and ``Fact.tender`` compute them."""
    when = func.coalesce(LotFact.concluded_at, LotFact.announced_at)
    if session.get_bind().dialect.name == "postgresql":
        month: ColumnElement[Any] = func.to_char(func.timezone("Asia/Shanghai", when), "YYYY-MM")
    else:  # SQLite keeps naive UTC; China has kept UTC+8 all year since 1991
        month = func.strftime("%Y-%m", when, "+8 hours")
    return {
        "category": LotFact.category,
        "procedure": LotFact.procedure_code,
        "region": LotFact.region,
        "month": month,
    }


def _micros(session: Session) -> ColumnElement[Any]:
    """Announcement → conclusion in whole microseconds, exactly (summed without rounding)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", LotFact.concluded_at - LotFact.announced_at) * 1_000_000
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds by strftime, microseconds by position
    seconds = func.strftime("%s", LotFact.concluded_at) - func.strftime("%s", LotFact.announced_at)
    fraction = func.substr(LotFact.concluded_at, 21, 6) - func.substr(LotFact.announced_at, 21, 6)
    return seconds * 1_000_000 + fraction


def sql_tables(
    session: Session, year: int | None = None, source: str = "all", procedures: Mapping[str, str] | None = None
) -> dict[str, Table]:
    """Every table aggregated by the database (one GROUP BY per dimension and one for the total):
    what the server shows. ``tables`` over ``load_facts`` computes the same figures in Python (the
    path ``--verify`` takes; a test holds them equal)."""
    if session.get_bind().dialect.name == "postgresql":
        tender: ColumnElement[Any] = func.split_part(LotFact.lot_key, "/", 1)
    else:
        tender = func.substr(LotFact.lot_key, 1, func.instr(LotFact.lot_key, "/") - 1)
    awarded = LotFact.outcome == "awarded"

    def count_if(cond: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.sum(case((cond, 1), else_=0))

    figures = (
        func.count(distinct(tender)),
        func.count(),
        count_if(awarded),
        count_if(LotFact.outcome == "failed"),
        count_if(LotFact.outcome == "terminated"),
        func.sum(LotFact.budget),
        func.sum(case((awarded, LotFact.award_amount), else_=None)),
        func.sum(case((awarded, LotFact.budget), else_=None)),
        func.sum(LotFact.bids),
        func.count(LotFact.bids),
        func.sum(case((awarded & LotFact.concluded_at.is_not(None), _micros(session)), else_=None)),
        count_if(LotFact.source == FactSource.GENERATED),
    )
    where = _filtered(session, year, source)

    def row(key: str, r: Any) -> Row:
        micros = int(Decimal(str(r[11] or 0)))
        return Row(
            key,
            "",
            int(r[1] or 0),
            int(r[2] or 0),
            int(r[3] or 0),
            int(r[4] or 0),
            int(r[5] or 0),
            Decimal(r[6] or 0),
            Decimal(r[7] or 0),
            Decimal(r[8] or 0),
            int(r[9] or 0),
            int(r[10] or 0),
            dt.timedelta(microseconds=micros),
            int(r[12] or 0),
        )

    total = row("total", (None, *session.execute(select(*figures).where(*where)).one()))
    total.label = "合计"
    out: dict[str, Table] = {}
    for dimension, key in _group_keys(session).items():
        rows = [
            row(str(r[0]), r) for r in session.execute(select(key, *figures).where(*where).group_by(key)) if total.lots
        ]
        for r in rows:
            r.label = label(dimension, r.key, procedures or {})
        rows.sort(key=(lambda r: r.key) if dimension == "month" else (lambda r: (-r.lots, r.key)))
        out[dimension] = Table(dimension, rows, total, total.generated)
    return out


def compute(
    session: Session, year: int | None = None, source: str = "all", procedures: Mapping[str, str] | None = None
) -> dict[str, Table]:
    """Every table over the facts in the database: the server's path (aggregated in SQL), what the
    pages show and the bench times against a scan of the table."""
    return sql_tables(session, year, source, procedures)


def fact_years(session: Session) -> list[int]:
    """The Beijing years the facts span (for the year filter), newest first."""
    lo, hi = session.execute(select(func.min(LotFact.announced_at), func.max(LotFact.concluded_at))).one()
    if lo is None:
        return []
    first = clock.local(clock.as_utc(lo)).year
    last = clock.local(clock.as_utc(hi or lo)).year
    return list(range(last, first - 1, -1))
