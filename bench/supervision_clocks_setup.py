"""Set-up helpers for the supervision sweep's benchmark (``bench/supervision.py`` calls them).

What it builds, fast (bulk rows of what the platform writes, the audit events with their real leaf
and chain hashes and subtree rows, as bench/trail.py does):

- ``grow_log``: the audit log grown to N events (1,000,000), the cursor put at its head, as if every
  event so far had been measured;
- ``open_clocks``: one tender with L lots (1,000) whose clocks of ``award_after_publicity`` run, and
  open ``objection_answer`` clocks up to C in all (100,000), their ``next_check_at`` spread over the
  next 30 days, D of them due now;
- ``new_events``: the work of one sweep interval: K ``lot.award`` (each stops a clock and starts
  two) and K ``evaluation.objection`` (each starts one), among ``noise`` events the sweep skips;
- ``baseline_scan``: the comparison the issue asks for, one indexed scan of the clocks table (every
  clock in ``next_check_at`` order, through its index).
"""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import sys
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, select, text, update

from bench._common import grow_log as common_grow_log

PG = os.environ.get("GGZY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def grow_log(db: Any, target: int, action: str = "bench.event") -> int:
    """The log grown to ``target`` events (``bench._common.grow_log``), with the supervision cursor
    at its head, as if every event so far had been measured. The head's seq."""
    from trading.supervision.models import SupervisionCursor

    seq = common_grow_log(db, target, action)
    with db.session() as s:
        s.execute(update(SupervisionCursor).where(SupervisionCursor.id == 1).values(seq=seq))
    return seq


def open_clocks(db: Any, clocks: int, lots: int, due: int, now: dt.datetime) -> dict[str, Any]:
    """One tender of ``lots`` lots, each with an ``award_after_publicity`` clock, and open
    ``objection_answer`` clocks up to ``clocks``; ``due`` of them due at ``now``. Their ids."""
    from archive.audit import SYSTEM
    from trading.accounts import operations as ops
    from trading.accounts.credit_code import check_character
    from trading.accounts.models import OrgKind, Role
    from trading.accounts.schemas import OrganisationIn, UserIn
    from trading.supervision.models import Colour, SupervisionClock, SupervisionRule
    from trading.supervision.rulebook import ensure_seed
    from trading.tenders.drafting import create_tender
    from trading.tenders.models import Lot
    from trading.tenders.schemas import TenderIn

    def code(prefix: str) -> str:
        base = prefix + "00000042"
        return base + check_character(base)

    with db.session() as s:
        ensure_seed(s, SYSTEM)
        tenderee_org = ops.create_organisation(
            s,
            SYSTEM,
            OrganisationIn(name="基准招标人", credit_code=code("913501000"), kind=OrgKind.TENDEREE, region="350100"),
        )
        ops.create_organisation(
            s,
            SYSTEM,
            OrganisationIn(
                name="基准监督部门", credit_code=code("113501000"), kind=OrgKind.SUPERVISION, region="350100"
            ),
        )
        user = ops.create_user(
            s,
            SYSTEM,
            UserIn(
                username="bench",
                display_name="基准",
                password="bench password 123",
                organisation_id=tenderee_org.id,
                roles=[Role.TENDEREE],
            ),
        )
        lot = {
            "name": "基准标段",
            "estimated_price": "10000000.00",
            "bond_amount": "200000.00",
            "evaluation_method": "comprehensive",
            "criteria": {
                "compliance": ["营业执照"],
                "factors": [{"name": "施工组织设计", "weight": 60}],
                "price": {"formula": "benchmark", "weight": 40},
            },
            "committee_size": 5,
            "specialties": [{"code": "A01", "count": 4}],
            "price_fields": [],
        }
        body = {
            "title": "基准项目：监督计时",
            "category": "construction",
            "procedure_code": "construction_open",
            "region": "350100",
            "bid_deadline": (now + dt.timedelta(days=25)).isoformat(),
            "announcement_body": "基准数据，不是真实项目。",
            "lots": [lot],
        }
        tender = create_tender(s, user, TenderIn.model_validate(body))
        first = tender.lots[0]
        extra = [
            {c.key: getattr(first, c.key) for c in Lot.__table__.columns if c.key not in ("id", "number", "name")}
            | {"number": n, "name": f"第{n}标段"}
            for n in range(2, lots + 1)
        ]
        if extra:
            s.execute(insert(Lot), extra)
        lot_ids = list(s.scalars(select(Lot.id).where(Lot.tender_id == tender.id).order_by(Lot.number)))
        rules = {r.code: r.id for r in s.scalars(select(SupervisionRule))}
        tender_id = tender.id
    rows = []
    span = dt.timedelta(days=30)
    for i in range(clocks):
        on_lot = i < len(lot_ids)
        check = now - dt.timedelta(seconds=1 + i) if i < due else now + span * ((i + 1) / clocks)
        rows.append(
            {
                "rule_id": rules["award_after_publicity" if on_lot else "objection_answer"],
                "rule_code": "award_after_publicity" if on_lot else "objection_answer",
                "subject_key": f"lot:{lot_ids[i]}" if on_lot else f"evaluation_objection:{10_000_000 + i}",
                "tender_id": tender_id,
                "lot_id": lot_ids[i] if on_lot else None,
                "complaint_id": None,
                "started_seq": 1,
                "started_at": now - dt.timedelta(days=1),
                "yellow_at": check,
                "due_at": check + dt.timedelta(days=1),
                "paused_since": None,
                "paused_seconds": 0,
                "stopped_seq": None,
                "stopped_at": None,
                "colour": Colour.GREEN,
                "worst": Colour.GREEN,
                "next_check_at": check,
            }
        )
    with db.session() as s:
        for i in range(0, len(rows), 10_000):
            s.execute(insert(SupervisionClock), rows[i : i + 10_000])
        s.execute(text("ANALYZE supervision_clock"))
    return {"tender_id": tender_id, "lot_ids": lot_ids}


def new_events(db: Any, lot_ids: list[int], k: int, noise: int, offset: int = 0) -> None:
    """One interval's events after the cursor: ``k`` awards of lots (from ``offset``), ``k``
    objections, ``noise`` events no rule names; through ``record_event`` as the stages write them."""
    from archive.audit import SYSTEM, record_event

    with db.session() as s:
        for n, lot_id in enumerate(lot_ids[offset : offset + k]):
            record_event(s, SYSTEM, "lot.award", ("lot", str(lot_id)), {"from": "publicity", "to": "awarded"})
            record_event(s, SYSTEM, "evaluation.objection", ("evaluation_objection", str(20_000_000 + offset + n)), {})
        for n in range(noise):
            record_event(s, SYSTEM, "bench.noise", ("bench", str(n)), {"n": n})


def baseline_scan(db: Any) -> int:
    """One indexed scan of the clocks table: every clock's id in ``next_check_at`` order."""
    from trading.supervision.models import SupervisionClock

    with db.session() as s:
        s.execute(text("SET LOCAL enable_seqscan = off"))
        return len(s.execute(select(SupervisionClock.id).order_by(SupervisionClock.next_check_at)).all())
