"""The statistics' facts (交易统计的事实): one row per concluded lot, read from the audit trail.

When a lot has concluded (定标 ``lot.award``, 流标 ``lot.fail``, 终止 ``lot.terminate``) the sweep
writes its ``LotFact`` and, in the same transaction, the audit event ``stats.lot_fact`` on the lot
whose payload is the fact itself and the sequence numbers of the events it was read from: the
tender's publication (``tender.publish``: when it was announced), the conclusion (its time, its
outcome and, for an award, the price) and the opening's event that states how many bids there were
(``ceremony.sign_in`` or, for a lot that failed at the deadline, ``ceremony.failed``). Anyone
holding a log export can therefore recompute every figure and check each fact against its sources
(``ggzy stats --verify``).

The demo's year of history (``generate_history``) is written as GENERATED facts only: it never
enters the audit trail, and every page that shows it says so.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, delete, exists, insert, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event
from trading.core.scheduler import each_attempted, job
from trading.core.services import Services
from trading.opening.models import Ceremony
from trading.supervision.models import FactSource, LotFact
from trading.tenders.models import Lot, LotState, Tender, TenderCategory

FACT_ACTION = "stats.lot_fact"
FAILED_ACTION = "stats.lot_fact_failed"
PUBLISH_ACTION = "tender.publish"
#: the conclusion's audit action → the fact's outcome
CONCLUSIONS = {"lot.award": "awarded", "lot.fail": "failed", "lot.terminate": "terminated"}
#: the opening's events that state the number of bids (``bids`` in their payload)
OPENING_ACTIONS = ("ceremony.sign_in", "ceremony.failed")
CONCLUDED = (LotState.AWARDED, LotState.FAILED, LotState.TERMINATED)
CENT = Decimal("0.01")


def lot_key(tender_code: str, number: int) -> str:
    """How a fact names its lot: the tender's public number and the lot's, e.g. GGZY-2026-000001/1."""
    return f"{tender_code}/{number}"


def money(value: Decimal | str) -> str:
    """An amount as the facts carry it: yuan with two decimals, as a string (never a float)."""
    return str(Decimal(str(value)).quantize(CENT))


def instant(at: dt.datetime) -> str:
    """An instant as the facts carry it: UTC, microseconds, as the audit event's own time."""
    return clock.as_utc(at).isoformat(timespec="microseconds")


# ---------------------------------------------------------------- the sweep
def due_lots(session: Session, limit: int = 500) -> list[int]:
    """Concluded lots of published tenders that have no trail fact yet (oldest first)."""
    key = Tender.code + "/" + cast(Lot.number, String)
    has_fact = exists().where(LotFact.source == FactSource.TRAIL, LotFact.lot_key == key)
    q = (
        select(Lot.id)
        .join(Tender, Tender.id == Lot.tender_id)
        .where(Lot.status.in_(CONCLUDED), Tender.docs_issued_at.is_not(None), ~has_fact)
        .order_by(Lot.id)
        .limit(limit)
    )
    return list(session.scalars(q))


def _event(session: Session, actions: tuple[str, ...], obj: tuple[str, str], last: bool) -> AuditEvent | None:
    """The first (or last) of ``actions`` about ``obj``."""
    q = select(AuditEvent).where(
        AuditEvent.action.in_(actions), AuditEvent.object_type == obj[0], AuditEvent.object_id == obj[1]
    )
    return session.scalar(q.order_by(AuditEvent.seq.desc() if last else AuditEvent.seq).limit(1))


def opening_event(session: Session, ceremony_id: int) -> AuditEvent | None:
    """The ceremony's opening at the deadline: its move from 待开标 to 签到 (a bidder's own
    sign-in shares the action) or to 流标, whose payload states the number of bids."""
    q = select(AuditEvent).where(
        AuditEvent.action.in_(OPENING_ACTIONS),
        AuditEvent.object_type == "ceremony",
        AuditEvent.object_id == str(ceremony_id),
    )
    for ev in session.scalars(q.order_by(AuditEvent.seq)):
        body = json.loads(ev.payload)
        if body.get("from") == "scheduled" and "bids" in body:
            return ev
    return None


def fact_body(
    tender: Tender,
    lot: Lot,
    publish: AuditEvent,
    conclusion: AuditEvent,
    opening: AuditEvent | None,
) -> dict[str, Any]:
    """The ``stats.lot_fact`` payload: the fact and the events it was read from (their seqs)."""
    outcome = CONCLUSIONS[conclusion.action]
    price = json.loads(conclusion.payload).get("price") if outcome == "awarded" else None
    bids = json.loads(opening.payload).get("bids") if opening is not None else None
    return {
        "lot_key": lot_key(tender.code, lot.number),
        "category": tender.category.value,
        "procedure": tender.procedure_code,
        "region": lot.region,
        "announced_at": instant(publish.at),
        "concluded_at": instant(conclusion.at),
        "outcome": outcome,
        "budget": money(lot.estimated_price),
        "award_amount": money(price) if price is not None else None,
        "bids": int(bids) if bids is not None else None,
        "sources": {
            "publish": publish.seq,
            "conclusion": conclusion.seq,
            "opening": opening.seq if opening is not None else None,
        },
    }


def write_fact(session: Session, lot_id: int) -> int:
    """The fact of one concluded lot and its audit event ``stats.lot_fact`` (1), or nothing (0) when
    it has one already or its trail lacks the publication or the conclusion."""
    lot = session.get(Lot, lot_id)
    if lot is None or lot.status not in CONCLUDED:
        return 0
    tender = lot.tender
    key = lot_key(tender.code, lot.number)
    if session.scalar(select(LotFact.id).where(LotFact.source == FactSource.TRAIL, LotFact.lot_key == key)):
        return 0
    publish = _event(session, (PUBLISH_ACTION,), ("tender", str(tender.id)), last=False)
    conclusion = _event(session, tuple(CONCLUSIONS), ("lot", str(lot.id)), last=True)
    if publish is None or conclusion is None:
        return 0
    ceremony = session.scalar(select(Ceremony.id).where(Ceremony.lot_id == lot.id))
    opening = opening_event(session, ceremony) if ceremony else None
    body = fact_body(tender, lot, publish, conclusion, opening)
    fact = fact_from_body(body, FactSource.TRAIL)
    session.add(fact)
    session.flush()
    fact.fact_seq = record_event(session, SYSTEM, FACT_ACTION, lot, body)
    session.flush()
    return 1


def fact_from_body(body: dict[str, Any], source: FactSource) -> LotFact:
    """A fact row from a ``stats.lot_fact`` payload."""
    award = body.get("award_amount")
    return LotFact(
        source=source,
        lot_key=body["lot_key"],
        category=body["category"],
        procedure_code=body["procedure"],
        region=body["region"],
        announced_at=dt.datetime.fromisoformat(body["announced_at"]),
        concluded_at=dt.datetime.fromisoformat(body["concluded_at"]) if body.get("concluded_at") else None,
        outcome=body["outcome"],
        budget=Decimal(body["budget"]),
        award_amount=Decimal(award) if award is not None else None,
        bids=body.get("bids"),
    )


def sweep_facts(session: Session, now: dt.datetime) -> int:
    """Write the fact of every lot concluded since the last sweep, each in its own transaction
    (idempotent: a lot with a trail fact is skipped; a failure is ``stats.lot_fact_failed``)."""
    return each_attempted(
        session,
        due_lots(session),
        now,
        "supervision_facts",
        FAILED_ACTION,
        lambda lot_id: ("lot", str(lot_id)),
        lambda lot_id: write_fact(session, lot_id),
    )


@job("supervision_facts", every_seconds=60)
def facts_job(session: Session, now: dt.datetime, services: Services) -> int:
    """The scheduler's sweep of the statistics' facts (``sweep_facts``)."""
    return sweep_facts(session, now)


# ---------------------------------------------------------------- the demo's generated history
#: category → the procedures its generated lots use (codes of the platform's procedure table)
GENERATED_PROCEDURES: dict[str, tuple[str, ...]] = {
    TenderCategory.CONSTRUCTION.value: ("construction_open", "construction_open", "construction_invited"),
    TenderCategory.GOODS.value: ("gp_open", "gp_open", "gp_negotiation"),
    TenderCategory.SERVICES.value: ("gp_open", "gp_negotiation"),
    TenderCategory.LAND_USE.value: ("land_listing",),
    TenderCategory.MINING.value: ("mining_rights",),
}
#: how often each category comes up, and its typical budget (yuan)
GENERATED_MIX: dict[str, tuple[int, int]] = {
    TenderCategory.CONSTRUCTION.value: (45, 12_000_000),
    TenderCategory.GOODS.value: (25, 1_500_000),
    TenderCategory.SERVICES.value: (20, 800_000),
    TenderCategory.LAND_USE.value: (6, 60_000_000),
    TenderCategory.MINING.value: (4, 20_000_000),
}
#: Fujian's cities (GB/T 2260), the platform's own province
GENERATED_REGIONS = ("350100", "350200", "350300", "350400", "350500", "350600", "350700", "350800", "350900")
GENERATED_PREFIX = "YS"  # 演示: the generated tenders' numbers, never a real tender's


def generate_history(
    session: Session, months: int = 12, seed: int = 2026, now: dt.datetime | None = None, per_month: int = 60
) -> int:
    """The demo's history: about ``per_month`` tenders a month (one to three lots each) over the
    ``months`` before ``now``, as GENERATED facts only (never audit events). Replaces the previous
    generated history; returns the number of facts written."""
    now = clock.as_utc(now or clock.now())
    rng = random.Random(seed)
    session.execute(delete(LotFact).where(LotFact.source == FactSource.GENERATED))
    categories = list(GENERATED_MIX)
    weights = [GENERATED_MIX[c][0] for c in categories]
    start = now - dt.timedelta(days=30 * months)
    rows: list[dict[str, Any]] = []
    n = 0
    for month in range(months):
        for _ in range(rng.randint(per_month * 3 // 4, per_month * 5 // 4)):
            n += 1
            category = rng.choices(categories, weights)[0]
            procedure = rng.choice(GENERATED_PROCEDURES[category])
            region = rng.choice(GENERATED_REGIONS)
            announced = start + dt.timedelta(days=30 * month + rng.uniform(0, 30))
            code = f"{GENERATED_PREFIX}-{clock.local(announced).year}-{n:06d}"
            for number in range(1, rng.choice((1, 1, 1, 2, 3)) + 1):
                concluded = announced + dt.timedelta(days=rng.uniform(20, 50))
                if concluded >= now:
                    continue  # still running: not a fact yet
                budget = Decimal(round(GENERATED_MIX[category][1] * rng.lognormvariate(0, 0.6), -2)).quantize(CENT)
                roll = rng.random()
                outcome = "awarded" if roll < 0.84 else "failed" if roll < 0.96 else "terminated"
                award = (budget * Decimal(str(round(rng.uniform(0.80, 0.995), 4)))).quantize(CENT)
                rows.append(
                    {
                        "source": FactSource.GENERATED,
                        "lot_key": lot_key(code, number),
                        "category": category,
                        "procedure_code": procedure,
                        "region": region,
                        "announced_at": announced,
                        "concluded_at": concluded,
                        "outcome": outcome,
                        "budget": budget,
                        "award_amount": award if outcome == "awarded" else None,
                        "bids": rng.randint(3, 14)
                        if outcome == "awarded"
                        else rng.randint(0, 2)
                        if outcome == "failed"
                        else None,
                        "fact_seq": None,
                    }
                )
    for i in range(0, len(rows), 1000):
        session.execute(insert(LotFact), rows[i : i + 1000])
    session.flush()
    return len(rows)
