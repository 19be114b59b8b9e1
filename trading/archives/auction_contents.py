"""What an auction lot's archive package holds (archive/PACKAGE.md, "Auction packages"): the signed
announcement, the lot's facts and documents, the registrations with their review and documents
(bidding number → organisation, disclosed once the lot has ended), the deposit ledger, every
accepted bid as the buyer signed it, the room's public feed, the reserve's reveal, the signed result
and its PDF, and every audit event of the lot with its inclusion proof.

From these alone ``archive.package_auction`` replays the bidding offline and reaches the winner and
the price, or finds where the record and the rules part.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from archive import package as pkg
from archive.audit import AuditEvent
from archive.objectstore import ObjectStore
from signing.canonical import canonical_json
from trading.accounts.models import Organisation
from trading.archives.contents import event_lines
from trading.auctions import result_pdf, rules
from trading.auctions.lifecycle import iso
from trading.auctions.models import (
    Auction,
    AuctionBid,
    AuctionDocument,
    AuctionEvent,
    AuctionProcedure,
    DepositEntry,
    Registration,
)

Ref = tuple[str, str]


def _bytes(path: str, category: str, kind: str, value: Any, **meta: Any) -> pkg.Entry:
    data = value if isinstance(value, bytes) else canonical_json(value)
    return pkg.bytes_entry(path, category, kind, data, **meta)


def _stored(store: ObjectStore, key: str) -> Any:
    return lambda: store.open(key)


def _amount(value: Any) -> str | None:
    return rules.amount_text(value) if value is not None else None


def file_name(name: str) -> str:
    """A document's name as a package path segment: no separators, no control characters."""
    cleaned = "".join("_" if c in "/\\" or ord(c) < 32 or c == "\x7f" else c for c in name)
    return cleaned[:150] or "document"


def _documents(session: Session, a: Auction) -> list[AuctionDocument]:
    return list(
        session.scalars(select(AuctionDocument).where(AuctionDocument.auction_id == a.id).order_by(AuctionDocument.id))
    )


def _registrations(session: Session, a: Auction) -> list[Registration]:
    return list(session.scalars(select(Registration).where(Registration.auction_id == a.id).order_by(Registration.id)))


def auction_refs(session: Session, a: Auction) -> list[Ref]:
    """The audit objects of the lot: itself, its registrations, its documents and deposit lines."""
    regs = _registrations(session, a)
    refs: list[Ref] = [a.audit_ref, *(r.audit_ref for r in regs)]
    refs += [("auction_document", str(d.id)) for d in _documents(session, a)]
    if regs:
        ids = session.scalars(select(DepositEntry.id).where(DepositEntry.registration_id.in_([r.id for r in regs])))
        refs += [("auction_deposit", str(i)) for i in ids]
    return list(dict.fromkeys(refs))


#: Events after the end that the package does not wait for: the result's PDF is drawn by a sweep
#: after the end asked for its checkpoint, and the package holds the PDF itself.
NOT_AWAITED = ("auction.result_pdf",)


def last_event(session: Session, a: Auction) -> int:
    """The sequence number of the lot's latest audit event the package waits for (0 if none)."""
    refs = auction_refs(session, a)
    seq = session.scalar(
        select(AuditEvent.seq)
        .where(tuple_(AuditEvent.object_type, AuditEvent.object_id).in_(refs))
        .where(AuditEvent.action.not_in(NOT_AWAITED))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    return int(seq or 0)


def _document_path(d: AuctionDocument) -> str:
    folder = "auction/documents" if d.registration_id is None else f"auction/registrations/{d.registration_id:04d}"
    return f"{folder}/{d.id:04d}-{file_name(d.name)}"


def _document_row(d: AuctionDocument) -> dict[str, Any]:
    return {
        "id": d.id,
        "name": d.name,
        "sm3": d.sm3,
        "size": d.size,
        "uploaded_at": iso(d.uploaded_at),
        "path": _document_path(d),
    }


def lot_facts(a: Auction, proc: AuctionProcedure | None, docs: list[AuctionDocument]) -> dict[str, Any]:
    return {
        "code": a.code,
        "title": a.title,
        "procedure": proc.code if proc else a.procedure_code,
        "procedure_name": proc.name if proc else "",
        "method": proc.method.value if proc else None,
        "source": proc.source if proc else "",
        "category": a.category,
        "region": a.region,
        "transferor": a.transferor,
        "description": a.description,
        "qualification": a.qualification,
        "currency": a.currency,
        "starting_price": _amount(a.starting_price),
        "increment": _amount(a.increment),
        "deposit": _amount(a.deposit),
        "reserve_sm3": a.reserve_sm3,
        "countdown_seconds": a.countdown_seconds,
        "announced_at": iso(a.announced_at),
        "registration_ends_at": iso(a.registration_ends_at),
        "bidding_starts_at": iso(a.bidding_starts_at),
        "free_ends_at": iso(a.free_ends_at),
        "state": a.state.value,
        "ended_at": iso(a.ended_at),
        "final_price": _amount(a.final_price),
        "publicity_ends_at": iso(a.publicity_ends_at),
        "result_sm3": a.result_sm3,
        "documents": [_document_row(d) for d in docs if d.registration_id is None],
    }


def registration_rows(session: Session, a: Auction, docs: list[AuctionDocument]) -> list[dict[str, Any]]:
    out = []
    for r in _registrations(session, a):
        org = session.get(Organisation, r.org_id)
        out.append(
            {
                "id": r.id,
                "bidding_number": r.bidding_number,
                "organisation": org.name if org else None,
                "credit_code": org.credit_code if org else None,
                "state": r.state.value,
                "review_reason": r.review_reason,
                "reviewed_at": iso(r.reviewed_at),
                "deposit_state": r.deposit_state.value,
                "wants_timed": r.wants_timed,
                "created_at": iso(r.created_at),
                "documents": [_document_row(d) for d in docs if d.registration_id == r.id],
            }
        )
    return out


def deposit_rows(session: Session, a: Auction) -> list[dict[str, Any]]:
    q = (
        select(DepositEntry, Registration.bidding_number)
        .join(Registration, Registration.id == DepositEntry.registration_id)
        .where(Registration.auction_id == a.id)
        .order_by(DepositEntry.id)
    )
    return [
        {
            "id": e.id,
            "registration": e.registration_id,
            "bidding_number": number,
            "kind": e.kind.value,
            "amount": _amount(e.amount),
            "reference": e.reference,
            "note": e.note,
            "at": iso(e.at),
            "due_by": iso(e.due_by),
        }
        for e, number in session.execute(q)
    ]


def bid_rows(session: Session, a: Auction) -> list[dict[str, Any]]:
    """Every accepted bid in its one order, with the statement, signature and certificate as received."""
    bids = session.scalars(select(AuctionBid).where(AuctionBid.auction_id == a.id).order_by(AuctionBid.seq))
    return [
        {
            "seq": b.seq,
            "bidding_number": b.bidding_number,
            "amount": rules.amount_text(b.amount),
            "seen_seq": b.seen_seq,
            "phase": b.phase.value,
            "statement": b.statement,
            "signature": b.signature,
            "signer_cert": b.signer_cert,
            "accepted_at": iso(b.accepted_at),
            "countdown_ends_at": iso(b.countdown_ends_at),
        }
        for b in bids
    ]


def feed_rows(session: Session, a: Auction) -> list[dict[str, Any]]:
    events = session.scalars(select(AuctionEvent).where(AuctionEvent.auction_id == a.id).order_by(AuctionEvent.id))
    return [{"id": e.id, "kind": e.kind, "payload": e.payload, "created_at": iso(e.created_at)} for e in events]


def collect(session: Session, a: Auction, store: ObjectStore, tree_size: int) -> list[pkg.Entry]:
    """Every file of the lot's package (the checkpoint's statement is added by the builder)."""
    proc = session.get(AuctionProcedure, a.procedure_code)
    docs = _documents(session, a)
    entries: list[pkg.Entry] = [_bytes("auction/lot.json", "announcement", "auction_lot", lot_facts(a, proc, docs))]
    if a.announcement_statement:
        entries.append(
            _bytes(
                "auction/announcement.sig.json",
                "announcement",
                "auction_announcement",
                a.announcement_statement.encode(),
            )
        )
    for d in docs:
        category = "auction_document" if d.registration_id is None else "auction_registration"
        kind = "auction_document" if d.registration_id is None else "registration_document"
        entries.append(pkg.Entry(_document_path(d), category, kind, _stored(store, d.object_key)))
    entries += [
        _bytes(
            "auction/registrations.json",
            "auction_registration",
            "auction_registrations",
            registration_rows(session, a, docs),
        ),
        _bytes("auction/deposits.json", "auction_deposit", "auction_deposits", deposit_rows(session, a)),
        _bytes("auction/bids.json", "auction_bid", "auction_bids", bid_rows(session, a)),
        _bytes("auction/feed.json", "auction_bid", "auction_feed", feed_rows(session, a)),
    ]
    if a.reserve_sm3 is not None:
        reveal = {"sm3": a.reserve_sm3, "price": _amount(a.reserve_price), "salt": a.reserve_salt}
        entries.append(_bytes("auction/reserve.json", "auction_result", "auction_reserve", reveal))
    if a.result_statement:
        entries.append(
            _bytes("auction/result.sig.json", "auction_result", "auction_result", a.result_statement.encode())
        )
        key = result_pdf.issue(session, store, a)
        entries.append(pkg.Entry("auction/result.pdf", "auction_result", "auction_result_pdf", _stored(store, key)))
    entries.append(
        _bytes("log/events.jsonl", "event_log", "events", event_lines(session, auction_refs(session, a), tree_size))
    )
    return entries
