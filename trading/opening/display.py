"""What the opening room shows: the bidders' names and credit codes, the bidder list, the reading
table (唱标) and the outcome counts; and the deadline commitment a bidder checks its bid against."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import AuditEvent
from archive.transparency import inclusion_proof, signed_checkpoints
from signing.price_sheet import labelled_fields
from trading.accounts.models import Organisation
from trading.bids.models import Bid, BidState
from trading.core.formats import money
from trading.guarantees.bonds import bond_status
from trading.opening.ceremonies import ceremonies_of, lot_of
from trading.opening.models import Ceremony, Outcome, reason_label
from trading.tenders.models import Tender


def credit_code_of(session: Session, org_id: int) -> str:
    org = session.get(Organisation, org_id)
    assert org is not None and org.credit_code is not None
    return org.credit_code


def org_name(session: Session, org_id: int) -> str:
    org = session.get(Organisation, org_id)
    return org.name if org else str(org_id)


def bidder_rows(session: Session, c: Ceremony) -> list[dict[str, Any]]:
    return [
        {
            "bidder": org_name(session, s.org_id),
            "signed_in": s.signed_in_at is not None,
            "outcome": s.outcome.value,
            "outcome_label": s.outcome.label,
        }
        for s in c.bidders
    ]


def fields_text(fields: Any, declared: list[dict[str, Any]]) -> str:
    """The price sheet's other fields as people read them (``工期（日历天）：150``), named by the
    lot's declaration; amounts with thousands separators. A sheet is the bidder's own file: what is
    not a table of fields shows nothing rather than failing the room."""
    if not isinstance(fields, dict):
        return ""
    return "；".join(
        f"{label}：{money(value) if kind == 'amount' else value}"
        for label, kind, value in labelled_fields(fields, declared)
    )


def reading_table(session: Session, c: Ceremony) -> list[dict[str, Any]]:
    """唱标: every bidder and its price sheet, published at once when the window closes. The codes
    and figures stay as they are; ``*_label`` is what the room and ``ggzy-bid`` show."""
    declared = lot_of(session, c).price_fields
    rows = []
    for s in c.bidders:
        sheet = s.price_sheet or {}
        fields = sheet.get("fields")
        fields = fields if isinstance(fields, dict) else {}
        rows.append(
            {
                "bidder": org_name(session, s.org_id),
                "credit_code": credit_code_of(session, s.org_id),
                "outcome": s.outcome.value,
                "outcome_label": s.outcome.label,
                "reason": s.outcome_reason,
                "reason_label": reason_label(s.outcome_reason),
                "price": sheet.get("price"),
                "price_label": money(sheet["price"]) if sheet.get("price") is not None else None,
                "fields": fields,
                "fields_label": fields_text(fields, declared),
                "bond": bond_status(session, c.lot_id, s.org_id)["label"],  # 保证金, from the e-guarantee module
            }
        )
    return rows


def counts(c: Ceremony) -> dict[str, int]:
    out = {o.value: 0 for o in Outcome}
    for s in c.bidders:
        out[s.outcome.value] += 1
    return out


def deadline_commitment(session: Session, tender: Tender) -> dict[str, Any] | None:
    """After the deadline: the signed checkpoint taken at it, and each accepted bid's commitment
    (ciphertext SM3, SM3 of the receipt) with its event's inclusion proof, so that every bidder can
    prove its bid was in the set that was opened."""
    if tender.closed_at is None:
        return None
    cps = [c for c in signed_checkpoints(session, f"tender:{tender.code}") if c.reason == "bid_deadline"]
    if not cps:
        return None
    cp = cps[0]
    bids = session.scalars(
        select(Bid).where(Bid.tender_id == tender.id, Bid.status == BidState.ACCEPTED).order_by(Bid.received_at)
    ).all()
    out = []
    for b in bids:
        commitment = b.commitment
        seq = session.scalar(
            select(AuditEvent.seq).where(AuditEvent.action == "bid.submit", AuditEvent.object_id == commitment[:32])
        )
        proof = inclusion_proof(session, seq, cp.tree_size) if seq is not None and seq <= cp.tree_size else []
        out.append(
            {
                "ciphertext_sm3": b.ciphertext_sm3,
                "commitment": commitment,
                "seq": seq,
                "inclusion_proof": [h.hex() for h in proof],
            }
        )
    return {
        "checkpoint": {
            "id": cp.id,
            "tree_size": cp.tree_size,
            "root_sm3": cp.root.hex(),
            "signed_at": cp.signed_at.isoformat(),
            "statement": cp.statement,
        },
        "bids": out,
    }


def tender_page_context(session: Session, tender: Tender) -> dict[str, Any]:
    """What the opening adds to the tender page (``trading.tenders.hooks.tender_page_context``): each
    lot's opening room (made at publication) for its link, and the deadline commitment."""
    return {
        "rooms": {c.lot_id: c for c in ceremonies_of(session, tender)},
        "commitment": deadline_commitment(session, tender),
    }
