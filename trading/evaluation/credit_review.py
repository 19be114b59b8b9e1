"""The credit check at the evaluation: each bidder of the lot is looked up again when the compliance
review starts (财库〔2016〕125号: 以评审时点的查询结果为准, and the result is kept with the file),
and the committee must address what it finds.

One check per bidder per round: the checks are made where the review starts (``start_review``, and
``send_back`` to the compliance review, which opens a new round); a bidder's latest evaluation check
of the lot is the one the room shows and the votes answer to. Each is a public audit event
``credit.checked`` about the check, naming the evaluation and its round (after the opening the
bidders are known); that event is what ties a check to its round.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, AuditEvent, record_event
from trading.accounts.models import Organisation
from trading.core.errors import Conflict
from trading.core.platform_keys import PlatformKeys
from trading.credit import checks
from trading.credit.models import CheckPurpose, CreditCheck, SubjectKind
from trading.credit.rules import Scope
from trading.evaluation.models import ComplianceVote, Evaluation
from trading.evaluation.room import bidders, lot_and_tender
from trading.opening.display import org_name
from trading.opening.models import CeremonyBidder


def rounds_of(session: Session, checks_: list[CreditCheck]) -> dict[int, int]:
    """The evaluation round each check was made for, as its ``credit.checked`` event records it
    (the event is where a check is tied to its round: no column of the check says it)."""
    if not checks_:
        return {}
    events = session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "credit.checked",
            AuditEvent.object_type == "credit_check",
            AuditEvent.object_id.in_([str(c.id) for c in checks_]),
        )
    )
    return {int(e.object_id): int(json.loads(e.payload)["round"]) for e in events}


def latest_checks(session: Session, ev: Evaluation) -> dict[int, CreditCheck]:
    """Each bidder's (opening seat's) latest evaluation check of this lot."""
    lot, tender = lot_and_tender(session, ev)
    seats = bidders(session, ev)
    codes = {org.credit_code: b.id for b in seats if (org := session.get(Organisation, b.org_id)) is not None}
    rows = session.scalars(
        select(CreditCheck)
        .where(
            CreditCheck.purpose == CheckPurpose.EVALUATION,
            CreditCheck.tender_code == tender.code,
            CreditCheck.lot_number == lot.number,
            CreditCheck.subject_kind == SubjectKind.ORGANISATION,
            CreditCheck.subject_id.in_(list(codes)),
        )
        .order_by(CreditCheck.id)
    )
    return {codes[c.subject_id]: c for c in rows}


def check_bidders(session: Session, keys: PlatformKeys, actor: Actor, ev: Evaluation) -> list[CreditCheck]:
    """Check every bidder under evaluation for the tender's region and category today, unless this
    round already did (idempotent); returns the checks made now."""
    lot, tender = lot_and_tender(session, ev)
    now = clock.now()
    scope = Scope(region=tender.region, category=tender.category.value, on=clock.local(now).date())
    have = latest_checks(session, ev)
    done = rounds_of(session, list(have.values()))
    made: list[CreditCheck] = []
    for b in bidders(session, ev):
        if b.id in have and done.get(have[b.id].id) == ev.round:
            continue
        org = session.get(Organisation, b.org_id)
        assert org is not None
        c = checks.check(
            session,
            keys,
            checks.Subject(SubjectKind.ORGANISATION, org.credit_code, org.name),
            scope,
            purpose=CheckPurpose.EVALUATION,
            tender_code=tender.code,
            lot_number=lot.number,
            now=now,
        )
        record_event(
            session,
            actor,
            "credit.checked",
            c,
            {
                "purpose": c.purpose.value,
                "evaluation": ev.id,
                "round": ev.round,
                "tender": tender.code,
                "lot": lot.number,
                "opening_seat": b.id,
                "credit_code": org.credit_code,
                "result": checks.result_of(c),
                "entries": [e["id"] for e in c.found],
                "statement_sm3": c.statement_sm3,
            },
        )
        made.append(c)
    return made


def credit_json(c: CreditCheck | None) -> dict[str, Any] | None:
    """A bidder's finding as the room shows it."""
    if c is None:
        return None
    return {
        "check": c.id,
        "result": checks.result_of(c),
        "result_label": checks.result_label(c),
        "checked_at": c.checked_at.isoformat(),
        "statement_sm3": c.statement_sm3,
        "entries": c.found,
    }


def flagged(session: Session, ev: Evaluation) -> dict[int, CreditCheck]:
    """The bidders whose latest check found something (barred or a notice)."""
    return {b: c for b, c in latest_checks(session, ev).items() if c.found}


def unaddressed(session: Session, ev: Evaluation) -> Conflict | None:
    """A flagged bidder with a vote of this round that gives no reason, or None."""
    flags = flagged(session, ev)
    if not flags:
        return None
    bare = session.scalars(
        select(ComplianceVote).where(
            ComplianceVote.evaluation_id == ev.id,
            ComplianceVote.round == ev.round,
            ComplianceVote.bidder_id.in_(list(flags)),
            ComplianceVote.reason.is_(None),
        )
    ).first()
    if bare is None:
        return None
    seat = session.get(CeremonyBidder, bare.bidder_id)
    name = org_name(session, seat.org_id) if seat else str(bare.bidder_id)
    return Conflict(
        f"“{name}”有信用查询结果，尚有审查意见未说明如何考虑（须填写理由）", code="credit_finding_unaddressed"
    )
