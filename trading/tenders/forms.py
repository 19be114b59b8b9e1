"""The tender page's form: one lot, a scoring template, Beijing time; to a ``TenderIn`` and back.
More lots and other criteria go through the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from archive import clock
from trading.core.errors import InvalidInput
from trading.core.schemas import parse
from trading.procedures.scoring import SCORING_TEMPLATES, template_for
from trading.tenders.models import Tender
from trading.tenders.operations import tender_announcement
from trading.tenders.schemas import TenderIn


def tender_from_form(form: Mapping[str, str]) -> TenderIn:
    """The page form has one lot; more lots go through the API."""
    template = SCORING_TEMPLATES.get(form.get("template", ""))
    if template is None:
        raise InvalidInput("请选择评标办法模板", fields={"template": "必选"})
    deadline = form.get("bid_deadline", "")
    data: dict[str, Any] = {
        k: form.get(k) for k in ("title", "description", "category", "procedure_code", "region", "announcement_body")
    }
    data["bid_deadline"] = f"{deadline}:00+08:00" if len(deadline) == 16 else deadline  # datetime-local, Beijing
    data["bid_validity_days"] = form.get("bid_validity_days") or 90
    for key in ("agency_org_id", "tenderee_org_id"):
        if form.get(key):
            data[key] = form.get(key)
    data["lots"] = [
        {
            "name": form.get("lot_name"),
            "estimated_price": form.get("estimated_price"),
            "bond_amount": form.get("bond_amount"),
            "evaluation_method": template["method"],
            "criteria": template["criteria"],
            "committee_size": form.get("committee_size") or 5,
            "specialties": [{"code": form.get("specialty_code") or "A01", "count": form.get("specialty_count") or 4}],
            "price_fields": [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}],
            "guarantee_sealed": form.get("guarantee_sealed") == "1",
        }
    ]
    return parse(TenderIn, {k: v for k, v in data.items() if v not in (None, "")})


def form_from_tender(t: Tender) -> dict[str, Any]:
    """The page form filled from a tender's first lot."""
    lot = t.lots[0]
    ann = tender_announcement(t)
    return {
        "title": t.title,
        "description": t.description,
        "category": t.category.value,
        "procedure_code": t.procedure_code,
        "region": t.region,
        "bid_deadline": clock.local(t.bid_deadline).strftime("%Y-%m-%dT%H:%M"),
        "bid_validity_days": t.bid_validity_days,
        "announcement_body": ann.body,
        "agency_org_id": t.agency_org_id or "",
        "lot_name": lot.name,
        "estimated_price": lot.estimated_price,
        "bond_amount": lot.bond_amount,
        "template": template_for(lot.criteria),
        "committee_size": lot.committee_size,
        "specialty_code": lot.specialties[0]["code"],
        "specialty_count": lot.specialties[0]["count"],
        "guarantee_sealed": lot.guarantee_sealed,
    }
