"""Computing a lot's collusion signals (串标迹象) once, after its opening, and signing them.

A lot is due once its ceremony has passed decryption (唱标, 开标记录确认 or 开标结束: every bid
decrypted or classified 撤销/撤回, no job still running) and it has no ``SignalRun``. Before that
nothing here reads a bid's origin or package: the answer for a lot before its opening is the same
whether it has bids or not. The run reads every decrypted package once (``packages``), the tender's
own documents (their files are not evidence), the upload origins and the registrations, applies
``rules.all_signals``, and stores the run, its signals and the platform-signed list in one
transaction with the audit event ``signals.computed``.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.audit import SYSTEM, Actor, record_event
from archive.objectstore import ObjectStoreError
from signing.digest import sm3_hex
from signing.price_sheet import valid_price
from signing.statements import sign_statement
from trading.accounts.models import Organisation
from trading.bids.models import BidOrigin
from trading.core.errors import Conflict, NotFound
from trading.core.services import Services
from trading.evaluation.watermark import seekable
from trading.opening.models import Ceremony, Outcome, Stage
from trading.signals import packages
from trading.signals.models import Signal, SignalKind, SignalRun
from trading.signals.rules import BidFacts, Reference, all_signals, reference_key
from trading.tenders.models import Interest, Lot, Tender, TenderDocument

log = logging.getLogger(__name__)

STATEMENT_TYPE = "collusion_signals"
#: The ceremony's stages after decryption: every bid decrypted or classified, none still in a job.
OPENED = (Stage.READING, Stage.CONFIRMING, Stage.CLOSED)


def due_lots(session: Session) -> list[int]:
    """Lots whose opening has passed decryption and whose signals are not computed (ids)."""
    done = exists().where(SignalRun.lot_id == Ceremony.lot_id)
    q = select(Ceremony.lot_id).where(Ceremony.stage.in_([s.value for s in OPENED]), ~done).order_by(Ceremony.lot_id)
    return list(session.scalars(q))


def opened_ceremony(session: Session, lot: Lot) -> Ceremony | None:
    """The lot's ceremony once it has passed decryption, else None."""
    c = session.scalar(select(Ceremony).where(Ceremony.lot_id == lot.id))
    return c if c is not None and c.stage in OPENED else None


def run_of(session: Session, lot_id: int) -> SignalRun | None:
    return session.scalar(select(SignalRun).where(SignalRun.lot_id == lot_id))


def signals_of(session: Session, run: SignalRun) -> list[Signal]:
    return list(session.scalars(select(Signal).where(Signal.run_id == run.id).order_by(Signal.id)))


def reference(session: Session, services: Services, tender: Tender, skipped: list[dict[str, Any]]) -> Reference:
    """The SM3 and metadata of the tender's own documents (and of the files in their zips)."""
    sm3: set[str] = set()
    meta: set[tuple[str, str]] = set()
    docs = session.scalars(
        select(TenderDocument).where(TenderDocument.tender_id == tender.id).order_by(TenderDocument.id)
    )
    for doc in docs:
        try:
            with services.store.open(doc.object_key) as raw, seekable(raw, services.scratch) as f:
                facts = packages.read_reference(doc.name, f)
        except (ObjectStoreError, OSError) as exc:
            skipped.append({"document": doc.name, "code": "storage_error", "detail": repr(exc)[:200]})
            sm3.add(doc.sm3)  # its recorded SM3 at least
            continue
        sm3.update(f.sm3 for f in facts.files)
        meta.update(reference_key(k, v) for m in facts.metadata for k, v in m.fields.items())
    return Reference(frozenset(sm3), frozenset(meta))


def _price(sheet: dict[str, Any] | None) -> Decimal | None:
    price = (sheet or {}).get("price")
    return Decimal(price) if isinstance(price, str) and valid_price(price) else None


def bid_facts(
    session: Session, services: Services, c: Ceremony, tender: Tender, skipped: list[dict[str, Any]]
) -> tuple[list[BidFacts], int]:
    """The facts of every bid at the opening, and how many files were read. A package that cannot
    be read is noted in ``skipped`` (its other facts still count)."""
    out, files = [], 0
    for seat in c.bidders:
        origin = session.scalar(select(BidOrigin).where(BidOrigin.bid_id == seat.bid_id))
        interest = session.scalar(
            select(Interest).where(Interest.tender_id == tender.id, Interest.org_id == seat.org_id)
        )
        org = session.get(Organisation, seat.org_id)
        facts = packages.PackageFacts((), ())
        if seat.outcome is Outcome.DECRYPTED and seat.plaintext_key:
            try:
                with services.store.open(seat.plaintext_key) as raw, seekable(raw, services.scratch) as f:
                    facts = packages.read_package(f)
                if facts.unread:
                    detail = f"{facts.unread} 份文档超出读取时限，只比较了 SM3"
                    skipped.append({"bidder": seat.id, "code": "metadata_budget", "detail": detail})
            except packages.PackageUnreadable as exc:
                skipped.append({"bidder": seat.id, "code": exc.code, "detail": exc.detail[:200]})
            except (ObjectStoreError, OSError) as exc:
                skipped.append({"bidder": seat.id, "code": "storage_error", "detail": repr(exc)[:200]})
        files += len(facts.files)
        sheet = seat.price_sheet if seat.outcome is Outcome.DECRYPTED else None
        fields = (sheet or {}).get("fields")
        out.append(
            BidFacts(
                bidder=seat.id,
                addresses=(origin.started_from, origin.completed_from) if origin else (),
                install_id=origin.install_id if origin else None,
                files=facts.files,
                metadata=facts.metadata,
                price=_price(sheet),
                sheet_fields={k: packages.clean_text(v) if isinstance(v, str) else v for k, v in fields.items()}
                if isinstance(fields, dict)
                else {},
                contact_name=interest.contact_name if interest else "",
                contact_phone=interest.contact_phone if interest else "",
                legal_representative=org.legal_representative if org else "",
            )
        )
    return out, files


def compute_run(
    session: Session, services: Services, lot: Lot, now: dt.datetime, actor: Actor = SYSTEM
) -> SignalRun | None:
    """Compute, sign and store the lot's signals; None if they already are (or another process
    stored them meanwhile). Raises ``Conflict`` before the opening has passed decryption."""
    if run_of(session, lot.id) is not None:
        return None
    c = opened_ceremony(session, lot)
    if c is None:
        raise Conflict("本标段尚未完成开标解密，不能计算串标迹象", code="signals_not_computed")
    tender = session.get(Tender, lot.tender_id)
    assert tender is not None
    skipped: list[dict[str, Any]] = []
    ref = reference(session, services, tender, skipped)
    bids, files = bid_facts(session, services, c, tender, skipped)
    found = all_signals(bids, lot.price_fields or [], ref)
    body = {
        "tender": tender.code,
        "lot": lot.number,
        "ceremony": c.id,
        "computed_at": now.isoformat(),
        "bids": len(bids),
        "files": files,
        "skipped": skipped,
        "signals": [f.as_json() for f in found],
    }
    st = sign_statement(STATEMENT_TYPE, body, key=services.keys.sign_key, cert=services.keys.sign_cert, now=now)
    text = st.to_json().decode()
    run = SignalRun(
        lot_id=lot.id,
        ceremony_id=c.id,
        computed_at=now,
        bids=len(bids),
        files=files,
        skipped=skipped,
        statement=text,
        statement_sm3=sm3_hex(text.encode()),
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None  # another sweep stored this lot's run first
    session.add_all(Signal(run_id=run.id, kind=f.kind, bidder_ids=list(f.bidders), evidence=f.evidence) for f in found)
    kinds = {k.value: sum(f.kind is k for f in found) for k in SignalKind}
    record_event(
        session,
        actor,
        "signals.computed",
        run,
        {
            "tender": tender.code,
            "lot": lot.number,
            "bids": len(bids),
            "files": files,
            "signals": len(found),
            "kinds": {k: n for k, n in kinds.items() if n},
            "skipped": len(skipped),
            "statement_sm3": run.statement_sm3,
        },
    )
    session.flush()
    return run


def lot_named(session: Session, code: str, number: int) -> Lot:
    """The lot ``number`` of tender ``code`` (404 ``not_found`` for either, the same words for both)."""
    lot = session.scalar(
        select(Lot).join(Tender, Tender.id == Lot.tender_id).where(Tender.code == code, Lot.number == number)
    )
    if lot is None:
        raise NotFound(f"招标项目 {code[:40]} 的标段 {number} 不存在")
    return lot


def computed_run(session: Session, lot: Lot) -> SignalRun:
    """The lot's run, or 404 ``signals_not_computed``: the same answer before the opening whether or
    not the lot has bids."""
    run = run_of(session, lot.id)
    if run is None:
        raise NotFound("本标段的串标迹象尚未计算（开标解密之后计算）", code="signals_not_computed")
    return run
