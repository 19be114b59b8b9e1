"""What a lot's archive package holds (archive/PACKAGE.md): the announcements and documents, the
sealed and opened bids with their receipts, the guarantees and claims, the opening record with its
confirmations and objections, the draw, the evaluation and the award, and every event of the lot
with its inclusion proof.

The files of a procurement are kept whole, neither altered nor destroyed, for at least fifteen
years (政府采购法第四十二条); the package is that record, verifiable without the platform.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from archive import package as pkg
from archive import transparency as log
from archive.audit import AuditEvent
from archive.objectstore import ObjectStore
from signing.canonical import canonical_json
from signing.certs import Certificate
from trading.accounts.models import Organisation
from trading.archives.credit_contents import credit_entries, credit_refs
from trading.archives.signals_contents import signals_entries, signals_refs
from trading.archives.supervision_contents import supervision_entries, supervision_refs
from trading.awards.award import objections
from trading.bids.models import Bid, BidState
from trading.core.services import Services
from trading.evaluation import models as em
from trading.guarantees.models import Guarantee, GuaranteeClaim
from trading.opening.models import Ceremony, Objection, Outcome
from trading.opening.record import record_files
from trading.pki.models import UserCertificate
from trading.tenders.models import Announcement, AnnouncementState, Lot, Tender, TenderDocument


def _stored(store: ObjectStore, key: str) -> Any:
    return lambda: store.open(key)


def _bytes(path: str, category: str, kind: str, value: Any, **meta: Any) -> pkg.Entry:
    data = value if isinstance(value, bytes) else canonical_json(value)
    return pkg.bytes_entry(path, category, kind, data, **meta)


def collect(session: Session, c: Ceremony, services: Services, tree_size: int) -> list[pkg.Entry]:
    """Every file of the lot's archive (see archive/PACKAGE.md for the layout)."""
    tender = session.get(Tender, c.tender_id)
    lot = session.get(Lot, c.lot_id)
    assert tender is not None and lot is not None
    store = services.store
    entries: list[pkg.Entry] = []
    refs: list[tuple[str, str]] = [("tender", str(tender.id)), ("lot", str(lot.id)), ("ceremony", str(c.id))]
    for ann in session.scalars(
        select(Announcement)
        .where(Announcement.tender_id == tender.id, Announcement.status == AnnouncementState.PUBLISHED)
        .order_by(Announcement.id)
    ):
        refs.append(("announcement", str(ann.id)))
        body = {
            "id": ann.id,
            "kind": ann.kind.value,
            "title": ann.title,
            "body": ann.body,
            "published_at": ann.published_at.isoformat() if ann.published_at else None,
            "content_sm3": ann.content_sm3,
        }
        entries.append(
            _bytes(f"announcements/{ann.id:04d}-{ann.kind.value}.json", "announcement", "announcement", body)
        )
    for doc in session.scalars(
        select(TenderDocument).where(TenderDocument.tender_id == tender.id).order_by(TenderDocument.id)
    ):
        refs.append(("tender_document", str(doc.id)))
        entries.append(
            pkg.Entry(
                f"documents/{doc.id:04d}-{doc.name}",
                "tender_document",
                "tender_document",
                _stored(store, doc.object_key),
            )
        )
        entries.append(
            _bytes(
                f"documents/{doc.id:04d}-{doc.name}.signature.json",
                "tender_document",
                "document_signature",
                {
                    "tender": tender.code,
                    "name": doc.name,
                    "sm3": doc.sm3,
                    "size": doc.size,
                    "signature": doc.signature,
                    "signer_cert_sm3": doc.signer_cert_sm3,
                    "signer_cert": _certificate_pem(session, doc.signer_cert_sm3),
                    "signed_at": doc.uploaded_at.isoformat(),
                },
                document=f"documents/{doc.id:04d}-{doc.name}",
            )
        )
    for bid in session.scalars(select(Bid).where(Bid.lot_id == lot.id).order_by(Bid.id)):
        refs.append(bid.audit_ref)
        refs.append(("bid", bid.commitment[:32]))
    seats = {s.bid_id: s for s in c.bidders}
    # the bids live at the deadline: the ceremony's seats, or (a lot that failed) the accepted ones
    live = select(Bid).where(Bid.lot_id == lot.id)
    live = live.where(Bid.id.in_(list(seats))) if seats else live.where(Bid.status == BidState.ACCEPTED)
    for bid in session.scalars(live.order_by(Bid.id)):
        org = session.get(Organisation, bid.org_id)
        code = org.credit_code if org and org.credit_code else str(bid.org_id)
        folder = f"bids/{code}"
        meta = {"bidder": code}
        entries.append(
            pkg.Entry(
                f"{folder}/sealed.ggzy",
                "bid",
                "sealed_bid",
                _stored(store, bid.object_key),
                {**meta, "received_at": bid.received_at.isoformat()},
            )
        )
        entries.append(_bytes(f"{folder}/receipt.json", "receipt", "receipt", bid.receipt.encode(), **meta))
        seat = seats.get(bid.id)
        if seat is not None and seat.outcome is Outcome.DECRYPTED and seat.plaintext_key:
            entries.append(
                pkg.Entry(f"{folder}/opened.zip", "bid", "opened_bid", _stored(store, seat.plaintext_key), meta)
            )
    for gu in session.scalars(select(Guarantee).where(Guarantee.lot_id == lot.id).order_by(Guarantee.id)):
        refs += [gu.audit_ref, ("guarantee_order", str(gu.order_id))]
        claims = session.scalars(select(GuaranteeClaim).where(GuaranteeClaim.guarantee_id == gu.id)).all()
        refs += [c.audit_ref for c in claims]
        folder = f"guarantees/{gu.id:04d}"
        if gu.document_key:  # a sealed guarantee never revealed has none
            entries.append(
                pkg.Entry(f"{folder}/document.pdf", "guarantee", "guarantee_document", _stored(store, gu.document_key))
            )
        signed: dict[str, Any] = {
            "content": gu.content,
            "signature": gu.signature,
            "signer_cert": gu.signer_cert,
            "verified_at": gu.verified_at.isoformat(),
            "openings": gu.openings,  # a sealed guarantee's revealed fields (check them against content)
            "state": gu.state.value,
            "released_at": gu.released_at.isoformat() if gu.released_at else None,
            "release_reason": gu.release_reason,
            "claims": [
                {
                    "ground": c.ground.value,
                    "evidence": c.evidence,
                    "statement": c.statement,
                    "state": c.state.value,
                    "answer": c.answer,
                    "paid_amount": str(c.paid_amount) if c.paid_amount is not None else None,
                    "payment_reference": c.payment_reference,
                }
                for c in claims
            ],
        }
        entries.append(
            _bytes(f"{folder}/guarantee.json", "guarantee", "guarantee", signed, document=f"{folder}/document.pdf")
        )
    for final, name in ((False, "opening/record"), (True, "opening/record-final")):
        files = record_files(c, final=final)
        if files is None:
            continue
        statement = c.final_record_statement if final else c.record_statement
        assert statement is not None
        entries.append(pkg.Entry(f"{name}.json", "opening_record", "record", _stored(store, files[0])))
        entries.append(pkg.Entry(f"{name}.pdf", "opening_record", "record", _stored(store, files[1])))
        entries.append(
            _bytes(f"{name}.sig.json", "opening_record", "record_statement", statement.encode(), record=name)
        )
    if c.bidders:
        confirmations = []
        for s in c.bidders:
            org = session.get(Organisation, s.org_id)
            confirmations.append(
                {
                    "credit_code": org.credit_code if org else None,
                    "ceremony": c.id,
                    "record_sm3": c.record_sm3,
                    "kind": s.confirmation.value if s.confirmation else None,
                    "at": s.confirmed_at.isoformat() if s.confirmed_at else None,
                    "signature": s.confirmation_signature,
                }
            )
        entries.append(_bytes("opening/confirmations.json", "opening_record", "confirmations", confirmations))
        objections = [
            {
                "raised_at": o.created_at.isoformat(),
                "text": o.text,
                "answer": o.answer,
                "answered_at": o.answered_at.isoformat() if o.answered_at else None,
            }
            for o in session.scalars(select(Objection).where(Objection.ceremony_id == c.id).order_by(Objection.id))
        ]
        entries.append(_bytes("opening/objections.json", "objection", "objections", objections))
    _evaluation_entries(session, lot, store, refs, entries)
    entries += supervision_entries(session, lot, lambda key: _stored(store, key))
    refs += supervision_refs(session, lot)
    entries += credit_entries(session, tender, lot)
    refs += credit_refs(session, tender, lot)
    entries += signals_entries(session, lot)
    refs += signals_refs(session, lot)
    entries.append(_bytes("log/events.jsonl", "event_log", "events", event_lines(session, refs, tree_size)))
    return entries


def event_lines(session: Session, refs: list[tuple[str, str]], tree_size: int) -> bytes:
    """The audit events about ``refs`` up to ``tree_size``, one JSON a line, each with its inclusion
    proof: a package's ``log/events.jsonl``, for a tender's lot and an auction's alike."""
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.seq <= tree_size, tuple_(AuditEvent.object_type, AuditEvent.object_id).in_(refs))
        .order_by(AuditEvent.seq)
    ).all()
    lines = []
    for ev in events:
        proof = log.inclusion_proof(session, ev.seq, tree_size)
        row = {
            "seq": ev.seq,
            "at": ev.at.isoformat(),
            "actor": ev.actor_id,
            "role": ev.actor_role,
            "action": ev.action,
            "object_type": ev.object_type,
            "object_id": ev.object_id,
            "payload": ev.payload,
            "inclusion_proof": [h.hex() for h in proof],
        }
        lines.append(json.dumps(row, ensure_ascii=False, sort_keys=True))
    return ("\n".join(lines) + "\n").encode()


def _evaluation_entries(
    session: Session, lot: Lot, store: ObjectStore, refs: list[tuple[str, str]], entries: list[pkg.Entry]
) -> None:
    """The draw, the evaluation, the publicity and the award, once the lot has them."""
    for d in session.scalars(select(em.Draw).where(em.Draw.lot_id == lot.id).order_by(em.Draw.round)):
        refs.append(d.audit_ref)
        refs += [m.audit_ref for m in session.scalars(select(em.DrawMember).where(em.DrawMember.draw_id == d.id))]
        entries.append(
            _bytes(
                f"evaluation/draws/{d.round:02d}.json",
                "evaluation",
                "draw",
                {
                    "draw": d.id,
                    "round": d.round,
                    "snapshot_sm3": d.snapshot_sm3,
                    "seed_sm3": d.seed_sm3,
                    "seed": d.seed.hex() if d.result is not None else None,
                    "result": d.result,
                },
            )
        )
        entries.append(
            pkg.Entry(
                f"evaluation/draws/{d.round:02d}-snapshot.json",
                "evaluation",
                "draw_snapshot",
                _stored(store, d.snapshot_key),
            )
        )
    ev = session.scalar(select(em.Evaluation).where(em.Evaluation.lot_id == lot.id))
    if ev is None:
        return
    refs.append(ev.audit_ref)
    for model in (em.Seat, em.ScoreSheet, em.Flag, em.Clarification, em.PublicityObjection):
        # each one's audit_ref is (its table, its id)
        ids = session.scalars(select(model.id).where(model.evaluation_id == ev.id))
        refs += [(str(model.__tablename__), str(i)) for i in ids]
    if ev.report is not None and ev.report_pdf_key:
        entries.append(_bytes("evaluation/report.json", "evaluation", "report", ev.report))
        entries.append(pkg.Entry("evaluation/report.pdf", "evaluation", "report", _stored(store, ev.report_pdf_key)))
    if ev.report_statement:
        entries.append(
            _bytes("evaluation/report.sig.json", "evaluation", "report_statement", ev.report_statement.encode())
        )
    publicity = [
        {
            "raised_at": o.created_at.isoformat(),
            "text": o.text,
            "answer": o.answer,
            "answered_at": o.answered_at.isoformat() if o.answered_at else None,
        }
        for o in objections(session, ev)
    ]
    entries.append(_bytes("evaluation/publicity-objections.json", "objection", "objections", publicity))
    if ev.notice_key and ev.notice_statement:
        entries.append(pkg.Entry("award/notice.pdf", "award", "award_notice", _stored(store, ev.notice_key)))
        entries.append(_bytes("award/notice.sig.json", "award", "notice_statement", ev.notice_statement.encode()))


def _certificate_pem(session: Session, fingerprint: str) -> str | None:
    der = session.scalar(select(UserCertificate.der).where(UserCertificate.fingerprint == fingerprint))
    return Certificate.load(der).to_pem().decode() if der else None
