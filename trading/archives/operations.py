"""Building, storing, holding and verifying a lot's archive package.

A package is built once the lot has reached an end state (the opening closed, the lot failed, the
tender was terminated) and the checkpoint asked for at that moment has been signed: every event of
the lot up to it goes in with its inclusion proof. The package is written to the archive store
with COMPLIANCE retention (``ARCHIVE_RETENTION_YEARS``); deleting it is refused and the attempt is
recorded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from archive import clock
from archive import package as pkg
from archive import transparency as log
from archive.audit import SYSTEM, Actor, AuditEvent, record_event
from archive.objectstore import ObjectStore, RetentionError
from archive.objectstore.base import StoredObject
from signing.canonical import canonical_json
from signing.certs import Certificate
from signing.digest import SM3
from trading.accounts.models import Organisation, Role, User
from trading.archives.models import ArchivePackage
from trading.bids.models import Bid, BidState
from trading.core.errors import Conflict, Forbidden, NotFound
from trading.core.scheduler import each_attempted
from trading.core.services import Services
from trading.guarantees.models import Guarantee, GuaranteeClaim
from trading.opening.models import FINAL_STAGES, Ceremony, Objection, Outcome, Stage
from trading.opening.record import record_files
from trading.tenders.models import Announcement, AnnouncementState, Lot, Tender, TenderDocument

REASONS = {Stage.CLOSED: "opened", Stage.FAILED: "failed", Stage.CANCELLED: "cancelled"}


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
    entries.append(_bytes("log/events.jsonl", "event_log", "events", ("\n".join(lines) + "\n").encode()))
    return entries


def _evaluation_entries(
    session: Session, lot: Lot, store: ObjectStore, refs: list[tuple[str, str]], entries: list[pkg.Entry]
) -> None:
    """The draw, the evaluation, the publicity and the award, once the lot has them."""
    from trading.awards.award import objections
    from trading.evaluation import models as em

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


def _end_of(session: Session, c: Ceremony) -> tuple[str, str]:
    """(the package's end state, the checkpoint subject its log must be signed under)."""
    from trading.evaluation.models import EvalState, Evaluation

    ev = session.scalar(select(Evaluation).where(Evaluation.lot_id == c.lot_id, Evaluation.state == EvalState.AWARDED))
    if ev is not None:
        return "awarded", f"evaluation:{ev.id}"
    return REASONS[c.stage], f"ceremony:{c.id}"


def _certificate_pem(session: Session, fingerprint: str) -> str | None:
    from trading.pki.models import UserCertificate

    der = session.scalar(select(UserCertificate.der).where(UserCertificate.fingerprint == fingerprint))
    return Certificate.load(der).to_pem().decode() if der else None


def _checkpoint_for(session: Session, subject: str) -> log.CheckpointView | None:
    cps = log.signed_checkpoints(session, subject)
    return max(cps, key=lambda cp: cp.tree_size) if cps else None


def build_for(
    session: Session, c: Ceremony, services: Services, now: dt.datetime | None = None
) -> ArchivePackage | None:
    """Build and store the lot's package (None while its closing checkpoint is not yet signed)."""
    now = now or clock.now()
    if c.stage not in FINAL_STAGES:
        raise Conflict("开标尚未结束，不能归档", code="not_ended")
    reason, subject = _end_of(session, c)
    have = select(ArchivePackage.id).where(ArchivePackage.lot_id == c.lot_id, ArchivePackage.reason == reason)
    if session.scalar(have) is not None:
        return None
    cp = _checkpoint_for(session, subject)
    if cp is None:
        return None
    tender = session.get(Tender, c.tender_id)
    lot = session.get(Lot, c.lot_id)
    assert tender is not None and lot is not None
    entries = collect(session, c, services, cp.tree_size)
    entries.append(_bytes("log/checkpoint.sig.json", "checkpoint", "checkpoint", cp.statement.encode()))
    keys = services.keys
    header = {
        "tender": tender.code,
        "title": tender.title,
        "lot": lot.number,
        "lot_name": lot.name,
        "end_state": reason,
        "checkpoint": {"id": cp.id, "tree_size": cp.tree_size, "root_sm3": cp.root.hex()},
    }
    fd, tmp = tempfile.mkstemp(prefix="archive-", dir=services.scratch)
    try:
        with os.fdopen(fd, "w+b") as f:
            manifest = pkg.build(f, entries, header, key=keys.sign_key, cert=keys.sign_cert, root=keys.ca.cert, now=now)
            f.seek(0)
            stored = services.archive_store.put_stream(f)
    finally:
        os.unlink(tmp)
    retain = now + dt.timedelta(days=365 * services.settings.archive_retention_years + 4)
    services.archive_store.set_retention(stored.key, retain)
    row = ArchivePackage(
        tender_id=tender.id,
        lot_id=lot.id,
        ceremony_id=c.id,
        reason=reason,
        object_key=stored.key,
        sm3=stored.sm3,
        size=stored.size,
        files=len(manifest["files"]),
        tree_size=cp.tree_size,
        built_at=now,
        retain_until=retain,
        legal_hold=False,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        SYSTEM,
        "archive.build",
        row,
        {
            "tender": tender.code,
            "lot": lot.number,
            "sm3": stored.sm3,
            "files": row.files,
            "retain_until": retain.isoformat(),
        },
    )
    return row


def build_due(session: Session, services: Services, now: dt.datetime) -> int:
    """The scheduler's job: every ended lot without a package whose checkpoint is signed, each in
    a transaction of its own (``each_apart``), so that a lot whose package cannot be built (a file
    the store does not give back, an unreadable row) holds up no other lot's; its failure is the
    audit event ``archive.build_failed`` about the lot, retried with a pause up to a cap."""
    from trading.evaluation.models import EvalState, Evaluation

    have = select(ArchivePackage.lot_id)
    ended = session.execute(
        select(Ceremony.id, Ceremony.lot_id)
        .where(Ceremony.stage.in_([s.value for s in FINAL_STAGES]), Ceremony.lot_id.not_in(have))
        .order_by(Ceremony.id)
    ).all()
    awarded = session.execute(
        select(Ceremony.id, Ceremony.lot_id)
        .join(Evaluation, Evaluation.lot_id == Ceremony.lot_id)
        .where(
            Evaluation.state == EvalState.AWARDED,
            Ceremony.lot_id.not_in(select(ArchivePackage.lot_id).where(ArchivePackage.reason == "awarded")),
        )
        .order_by(Ceremony.id)
    ).all()
    # the end state the package is for: a lot archived at its end is archived again once awarded
    due = [(cid, lot_id, "end") for cid, lot_id in ended] + [(cid, lot_id, "awarded") for cid, lot_id in awarded]

    def build_one(ceremony_id: int) -> bool:
        c = session.get(Ceremony, ceremony_id)
        return c is not None and build_for(session, c, services, now) is not None

    return each_attempted(
        session,
        due,
        now,
        "build_archives",
        "archive.build_failed",
        lambda item: ("lot", str(item[1])),
        lambda item: build_one(item[0]),
        match=lambda item: {"package": item[2]},
    )


# ---------------------------------------------------------------- reading, holding, deleting
def get_package(session: Session, package_id: int) -> ArchivePackage:
    p = session.get(ArchivePackage, package_id)
    if p is None:
        raise NotFound(f"档案 {package_id} 不存在")
    return p


def search(session: Session, text: str = "") -> list[tuple[ArchivePackage, Tender, Lot]]:
    q = (
        select(ArchivePackage, Tender, Lot)
        .join(Tender, Tender.id == ArchivePackage.tender_id)
        .join(Lot, Lot.id == ArchivePackage.lot_id)
        .order_by(ArchivePackage.id.desc())
    )
    if text:
        q = q.where(Tender.code.contains(text) | Tender.title.contains(text))
    return [(p, t, lot) for p, t, lot in session.execute(q.limit(200)).all()]


def verify_stored(session: Session, actor: Actor, p: ArchivePackage, services: Services) -> pkg.Report:
    """Verify the stored package as an outsider would, against the platform's root. A package the
    store cannot give back whole (missing, unreadable) is a finding of the report like any other
    damage, so "verify now" always answers with named findings."""
    fd, tmp = tempfile.mkstemp(prefix="verify-", dir=services.scratch)
    h = SM3()
    try:
        try:
            with os.fdopen(fd, "wb") as out, services.archive_store.open(p.object_key) as src:
                while chunk := src.read(1 << 20):
                    h.update(chunk)
                    out.write(chunk)
        except Exception as exc:  # the store's own errors, whatever the backend raises
            report = pkg.Report()
            code = getattr(exc, "code", None) or pkg.finding_code(exc)
            report.add(f"档案存储 {p.object_key} (archive store)", False, pkg.describe(exc), code)
        else:
            report = pkg.verify(tmp, services.keys.ca.cert)
    finally:
        os.unlink(tmp)
    p.verified_at, p.verified_ok, p.report = clock.now(), report.ok, "\n".join(report.lines())
    record_event(
        session,
        actor,
        "archive.verify",
        p,
        {"ok": report.ok, "failures": len(report.failures), "sm3": h.hexdigest(), "package_sm3": p.sm3},
    )
    return report


def record_download(session: Session, actor: Actor, p: ArchivePackage, services: Services) -> StoredObject:
    """A package holds every opened bid: each read of it is in the trail, with its reader and the
    SM3 and size the store holds for the object (its content address: what the bytes must hash
    to). The event commits before the first byte leaves; the view hashes the bytes as it serves
    them and breaks the transfer if they do not hash to this SM3 (``record_damaged_download``)."""
    stored = services.archive_store.stat(p.object_key)
    if stored is None:
        raise NotFound(f"档案 {p.id} 的文件不在档案存储中 (package object missing)", code="object_missing")
    record_event(session, actor, "archive.download", p, {"sm3": stored.sm3, "size": stored.size, "lot": p.lot_id})
    return stored


def record_damaged_download(
    session: Session, actor: Actor, package: tuple[str, str], expected: str, served: str, size: int
) -> None:
    """The bytes streamed for a download did not hash to the SM3 its ``archive.download`` event
    names: the stored package is damaged. Recorded in a transaction of its own (the download's
    committed before the first byte), with what was expected and what was actually read."""
    record_event(
        session,
        actor,
        "archive.download_damaged",
        package,
        {"expected_sm3": expected, "served_sm3": served, "size": size},
    )


def set_legal_hold(session: Session, user: User, p: ArchivePackage, on: bool, reason: str, services: Services) -> None:
    if Role.STAFF not in user.roles:
        raise Forbidden("只有交易中心工作人员可以设置法律保留")
    reason = (reason or "").strip()
    if not 2 <= len(reason) <= 500:
        from trading.core.errors import InvalidInput

        raise InvalidInput("请填写原因（2–500 字），如争议或投诉编号", fields={"reason": "2–500 字"})
    services.archive_store.set_legal_hold(p.object_key, on)
    p.legal_hold = on
    record_event(session, user, "archive.legal_hold", p, {"on": on, "reason": reason})


def try_delete(session: Session, actor: Actor, p: ArchivePackage, services: Services) -> None:
    """Deleting a retained package is refused by the store; the attempt is recorded either way."""
    try:
        services.archive_store.delete(p.object_key)
    except RetentionError as exc:
        record_event(session, actor, "archive.delete_refused", p, {"reason": str(exc)})
        raise Conflict(f"档案在保留期内或处于法律保留，不能删除：{exc}", code="retained") from None
    record_event(session, actor, "archive.delete", p, {})
    session.delete(p)
