"""Shared view helpers for tender pages and the tender API: loading, JSON shapes, downloads."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

from flask import Response, current_app

from archive import clock
from trading.accounts import web
from trading.accounts.models import User
from trading.core.checked_download import checked_response
from trading.core.db import Database
from trading.core.errors import InvalidInput
from trading.core.platform_keys import key_encryption_key
from trading.core.schemas import whole_number
from trading.core.services import object_store
from trading.tenders import documents as docs
from trading.tenders import operations as ops
from trading.tenders.models import (
    Announcement,
    AnnouncementState,
    Lot,
    Tender,
    TenderCategory,
    TenderDocument,
    TenderState,
)
from trading.tenders.portal import PortalQuery


def load(code: str, *, for_update: bool = False) -> Tender:
    """A tender the current user may see, with its deadline enforced now."""
    tender = ops.visible_tender(web.db(), code, web.current_user())
    if for_update:
        tender = ops.get_tender(web.db(), code, for_update=True)
    ops.ensure_current(web.db(), tender)
    return tender


def kek() -> bytes:
    """The platform's key-encryption key, for the sealed events of a bidder's interest."""
    return key_encryption_key(current_app.extensions["ggzy.settings"])


def iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def lot_json(lot: Lot) -> dict[str, Any]:
    return {
        "number": lot.number,
        "name": lot.name,
        "estimated_price": str(lot.estimated_price),
        "bond_amount": str(lot.bond_amount),
        "currency": lot.currency,
        "region": lot.region,
        "evaluation_method": lot.evaluation_method.value,
        "criteria": lot.criteria,
        "committee_size": lot.committee_size,
        "specialties": lot.specialties,
        "price_fields": lot.price_fields,
        "guarantee_sealed": lot.guarantee_sealed,
        "status": lot.status.value,
        "status_label": lot.status.label,
    }


def announcement_json(a: Announcement) -> dict[str, Any]:
    return {
        "id": a.id,
        "kind": a.kind.value,
        "kind_label": a.kind.label,
        "status": a.status.value,
        "title": a.title,
        "body": a.body,
        "published_at": iso(a.published_at),
        "supersedes_id": a.supersedes_id,
        "affects_bids": a.affects_bids,
        "deadline_after": iso(a.deadline_after),
        "content_sm3": a.content_sm3,
        "review_reason": a.review_reason,
    }


def visible_announcements(tender: Tender) -> list[Announcement]:
    user = web.current_user()
    if tender.can_manage(user) or (user is not None and web.has_permission("tender:tender:read")):
        return list(tender.announcements)
    return [a for a in tender.announcements if a.status is AnnouncementState.PUBLISHED]


def tender_json(tender: Tender) -> dict[str, Any]:
    user = web.current_user()
    can_see_pending = tender.can_manage(user) or web.has_permission("tender:tender:read")
    documents = docs.current_documents(web.db(), tender, include_pending=can_see_pending)
    return {
        "code": tender.code,
        "title": tender.title,
        "description": tender.description,
        "category": tender.category.value,
        "procedure_code": tender.procedure_code,
        "region": tender.region,
        "status": tender.status.value,
        "status_label": tender.status.label,
        "bid_deadline": iso(tender.bid_deadline),
        "bid_deadline_local": clock.local(tender.bid_deadline).strftime("%Y-%m-%d %H:%M"),
        "opening_at": iso(tender.bid_deadline),
        "bid_validity_days": tender.bid_validity_days,
        "joint_opening": tender.joint_opening,
        "docs_issued_at": iso(tender.docs_issued_at),
        "return_reason": tender.return_reason if can_see_pending else None,
        "tenderee": tender.tenderee.name,
        "agency": tender.agency.name if tender.agency else None,
        "lots": [lot_json(lot) for lot in tender.lots],
        "announcements": [announcement_json(a) for a in visible_announcements(tender)],
        "documents": [
            {
                "id": d.id,
                "name": d.name,
                "sm3": d.sm3,
                "size": d.size,
                "signature": d.signature,
                "signer_cert_sm3": d.signer_cert_sm3,
                "signer_certificate": _cert_pem(d.signer_cert_sm3),
                "announcement_id": d.announcement_id,
            }
            for d in documents
        ],
    }


def _cert_pem(fingerprint: str) -> str | None:
    """The tenderee's certificate (public), so a download can be verified offline."""
    from sqlalchemy import select

    from signing.certs import Certificate
    from trading.pki.models import UserCertificate

    der = web.db().scalar(select(UserCertificate.der).where(UserCertificate.fingerprint == fingerprint))
    return None if der is None else Certificate(der).to_pem().decode()


def stream_document(tender: Tender, document_id: int) -> Response:
    """Record the download (committed first), then stream the bytes, checked against the SM3 the
    event names (``trading.core.checked_download``): a damaged stored document breaks the transfer off
    and is recorded as ``tender_document.read_damaged`` (sealed for a bidder)."""
    user, key = web.require_user(), kek()
    doc, handle = docs.open_document(web.db(), object_store(current_app), user, tender, document_id, kek=key)
    web.commit()
    # The damage is recorded in a session of its own, so it takes ids, not the request's rows.
    database: Database = current_app.extensions["ggzy.db"]
    ids = (user.id, tender.id, doc.id)

    def damaged(served_sm3: str, served_size: int) -> None:
        with database.session() as s:
            reader, t, d = s.get(User, ids[0]), s.get(Tender, ids[1]), s.get(TenderDocument, ids[2])
            assert reader is not None and t is not None and d is not None
            docs.record_damaged_read(s, reader, t, d, served_sm3, served_size, kek=key)

    return checked_response(
        handle,
        sm3=doc.sm3,
        size=doc.size,
        # names the stored object (operators must repair it), never the reader
        what=f"tender document {doc.id}",
        on_damage=damaged,
        mimetype="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(doc.name)}",
            "X-Content-SM3": doc.sm3,
            "X-Signature": doc.signature,
        },
    )


def portal_query(args: Any) -> PortalQuery:
    def enum(cls: Any, name: str) -> Any:
        raw = args.get(name, "")
        if not raw:
            return None
        try:
            return cls(raw)
        except ValueError:
            raise InvalidInput(f"参数 {name} 的取值无效", fields={name: "取值无效"}) from None

    region = args.get("region", "")
    if region and (not region.isdigit() or len(region) > 6):
        raise InvalidInput("行政区划代码应为 2–6 位数字", fields={"region": "格式不正确"})
    page = whole_number(args.get("page", "") or "1", "page", minimum=1, maximum=10_000)
    size = whole_number(args.get("page_size", "") or "20", "page_size", minimum=1, maximum=100)
    from trading.tenders.models import AnnouncementKind

    return PortalQuery(
        q=args.get("q", "")[:100],
        category=enum(TenderCategory, "category"),
        region=region,
        status=enum(TenderState, "status"),
        kind=enum(AnnouncementKind, "kind"),
        page=page,
        page_size=size,
    )
