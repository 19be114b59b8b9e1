"""The tender's JSON shapes for the API (and for the stages that show a tender's facts)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from archive import clock
from signing.certs import Certificate
from trading.accounts import web
from trading.pki.models import UserCertificate
from trading.tenders import documents as docs
from trading.tenders.loading import visible_announcements
from trading.tenders.models import Announcement, Lot, Tender


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
                "signer_certificate": certificate_pem(d.signer_cert_sm3),
                "announcement_id": d.announcement_id,
            }
            for d in documents
        ],
    }


def certificate_pem(fingerprint: str) -> str | None:
    """The tenderee's certificate (public), so a download can be verified offline."""
    der = web.db().scalar(select(UserCertificate.der).where(UserCertificate.fingerprint == fingerprint))
    return None if der is None else Certificate(der).to_pem().decode()
