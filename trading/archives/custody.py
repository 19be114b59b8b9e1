"""档案保管: finding a package, verifying it as an outsider would, reading it (every read in the
trail), legal holds, and deletion (refused by the store while the package is retained; the
attempt is recorded either way)."""

from __future__ import annotations

import os
import tempfile

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock, package_check, package_findings
from archive.audit import Actor, record_event
from archive.objectstore import RetentionError
from archive.objectstore.base import StoredObject
from signing.digest import SM3
from trading.accounts.models import Role, User
from trading.archives.models import ArchivePackage
from trading.auctions.models import Auction
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.services import Services
from trading.tenders.models import Lot, Tender


def get_package(session: Session, package_id: int) -> ArchivePackage:
    p = session.get(ArchivePackage, package_id)
    if p is None:
        raise NotFound(f"档案 {package_id} 不存在")
    return p


#: a package with what it is about: a tender's lot, or an auction lot (标的)
Listed = tuple[ArchivePackage, Tender | None, Lot | None, Auction | None]


def search(session: Session, text: str = "") -> list[Listed]:
    """The newest 200 packages whose tender or auction lot's code or title contains ``text``."""
    q = (
        select(ArchivePackage, Tender, Lot, Auction)
        .outerjoin(Tender, Tender.id == ArchivePackage.tender_id)
        .outerjoin(Lot, Lot.id == ArchivePackage.lot_id)
        .outerjoin(Auction, Auction.id == ArchivePackage.auction_id)
        .order_by(ArchivePackage.id.desc())
    )
    if text:
        q = q.where(
            Tender.code.contains(text)
            | Tender.title.contains(text)
            | Auction.code.contains(text)
            | Auction.title.contains(text)
        )
    return [(p, t, lot, a) for p, t, lot, a in session.execute(q.limit(200)).all()]


def verify_stored(session: Session, actor: Actor, p: ArchivePackage, services: Services) -> package_findings.Report:
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
            report = package_findings.Report()
            code = getattr(exc, "code", None) or package_findings.finding_code(exc)
            report.add(f"档案存储 {p.object_key} (archive store)", False, package_findings.describe(exc), code)
        else:
            report = package_check.verify(tmp, services.keys.ca.cert)
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
    about = {"auction": p.auction_id} if p.auction_id is not None else {"lot": p.lot_id}
    record_event(session, actor, "archive.download", p, {"sm3": stored.sm3, "size": stored.size, **about})
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
