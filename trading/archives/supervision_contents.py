"""What supervision adds to a lot's archive package: each complaint about the lot (its signed filing,
evidence, the parties' statements and the supervisor's signed documents, 招标投标法实施条例第六十一条、
财政部令第94号第二十九条: the decision is written and kept) and the lot's time-limit clocks with their
colours, so a late act (红灯) stays on the record the package keeps for fifteen years.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import package as pkg
from signing.canonical import canonical_json
from trading.supervision.complaint_documents import (
    complaint_files,
    complaint_refs,
    complaints_of_lot,
    statement_requests,
)
from trading.supervision.models import SupervisionClock
from trading.tenders.models import Lot

Ref = tuple[str, str]


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def supervision_refs(session: Session, lot: Lot) -> list[Ref]:
    """The audit objects of the lot's complaints (their files and statement requests) and clocks."""
    return complaint_refs(session, lot.id) + [k.audit_ref for k in _clocks(session, lot)]


def _clocks(session: Session, lot: Lot) -> list[SupervisionClock]:
    return list(session.scalars(select(SupervisionClock).where(SupervisionClock.lot_id == lot.id)))


def supervision_entries(session: Session, lot: Lot, open_stored: Callable[[str], Any]) -> list[pkg.Entry]:
    """The package members (archive/PACKAGE.md, ``supervision/``); ``open_stored`` opens an object."""
    entries: list[pkg.Entry] = []
    for c in complaints_of_lot(session, lot.id):
        folder = f"supervision/complaints/{c.number}"
        files = complaint_files(session, c.id)
        statements = statement_requests(session, c.id)
        body = {
            "number": c.number,
            "kind": c.kind.value,
            "matter": c.matter,
            "lot": lot.number if c.lot_id == lot.id else None,
            "objection": c.objection_ref,
            "grounds": c.grounds,
            "requests": c.requests,
            "statement": c.statement,
            "state": c.state.value,
            "filed_at": _iso(c.filed_at),
            "accepted_at": _iso(c.accepted_at),
            "refused_at": _iso(c.refused_at),
            "refusal_reason": c.refusal_reason,
            "suspended_at": _iso(c.suspended_at),
            "resumed_at": _iso(c.resumed_at),
            "decided_at": _iso(c.decided_at),
            "finding": c.finding.value if c.finding else None,
            "decision": c.decision,
            "measures": c.measures,
            "statements": [
                {
                    "org": r.org_id,
                    "question": r.question,
                    "asked_at": _iso(r.asked_at),
                    "due_at": _iso(r.due_at),
                    "answer": r.answer,
                    "answered_at": _iso(r.answered_at),
                }
                for r in statements
            ],
            "files": [{"id": f.id, "kind": f.kind, "name": f.name, "sm3": f.sm3, "size": f.size} for f in files],
        }
        entries.append(pkg.bytes_entry(f"{folder}/complaint.json", "supervision", "complaint", canonical_json(body)))
        for f in files:
            path = f"{folder}/{f.id:04d}-{f.kind}"
            entries.append(pkg.Entry(path, "supervision", "complaint_file", open_stored(f.object_key)))
            if f.signature:
                entries.append(
                    pkg.bytes_entry(
                        f"{path}.sig.json",
                        "supervision",
                        "complaint_document_statement",
                        f.signature.encode(),
                        document=path,
                    )
                )
    clocks = [
        {
            "id": k.id,
            "rule": k.rule_code,
            "rule_id": k.rule_id,
            "started_seq": k.started_seq,
            "started_at": _iso(k.started_at),
            "yellow_at": _iso(k.yellow_at),
            "due_at": _iso(k.due_at),
            "paused_seconds": k.paused_seconds,
            "stopped_seq": k.stopped_seq,
            "stopped_at": _iso(k.stopped_at),
            "colour": k.colour.value,
            "worst": k.worst.value,
        }
        for k in sorted(_clocks(session, lot), key=lambda k: k.id)
    ]
    if clocks:
        entries.append(pkg.bytes_entry("supervision/clocks.json", "supervision", "clocks", canonical_json(clocks)))
    return entries
