"""The tender page's form: the tender and its lots (标段), each with a scoring template, in Beijing
time; to a ``TenderIn`` and back. Other criteria, several specialties per lot or a joint opening
go through the API.

Each lot is a row of inputs with the same names (``lot_name``, ``estimated_price`` …), read in
order with ``getlist``; the 保函加密 checkbox carries its row's number, since an unchecked box sends
nothing. Rows are added and removed by submitting the form (``再加一个标段``, ``删除本标段``): no
script is needed, and nothing is saved until ``保存``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from archive import clock
from trading.accounts.form_errors import WHOLE, field_errors, field_lines
from trading.core.errors import DomainError, InvalidInput
from trading.core.schemas import parse
from trading.procedures.scoring import SCORING_TEMPLATES, template_for
from trading.tenders.models import Tender
from trading.tenders.operations import tender_announcement
from trading.tenders.schemas import LotIn, TenderIn

MAX_LOTS = 50  # TenderIn.lots
LOT_FIELDS = (
    "lot_name",
    "estimated_price",
    "bond_amount",
    "template",
    "committee_size",
    "specialty_code",
    "specialty_count",
)
TENDER_FIELDS = ("title", "description", "category", "procedure_code", "region", "announcement_body")


class LotsInvalid(InvalidInput):
    """Some lots of the form are wrong: ``per_lot`` holds each one's messages by its number, shown
    under the lot; ``lines`` the same for the summary at the top of the form."""

    def __init__(self, per_lot: dict[int, list[str]]) -> None:
        numbers = "、".join(f"第{n}标段" for n in per_lot)
        super().__init__(f"{numbers}填写有误，请按标段下方的提示修改")
        self.per_lot = per_lot
        self.lines = [f"第{n}标段 · {m}" for n, messages in per_lot.items() for m in messages]


def lot_messages(exc: DomainError) -> list[str]:
    """One lot's refusal as lines: ``估算价：应大于 0``, or a rule across its fields as it is said."""
    errors = field_errors(exc, LotIn)
    return [m if name == WHOLE else f"{name}：{m}" for name, m in errors.items()] or [exc.message]


def blank_lot(number: int) -> dict[str, str]:
    return {
        "lot_name": "",
        "estimated_price": "",
        "bond_amount": "",
        "template": "construction",
        "committee_size": "5",
        "specialty_code": "A08",
        "specialty_count": "4",
        "guarantee_sealed": "",
        "number": str(number),
    }


def lot_rows(form: MultiDict[str, str]) -> list[dict[str, str]]:
    """The form's lots as rows of text, in order (at least one)."""
    columns = {name: form.getlist(name) for name in LOT_FIELDS}
    count = max(len(v) for v in columns.values())
    if count > MAX_LOTS:
        raise InvalidInput(f"一个项目最多 {MAX_LOTS} 个标段", fields={"标段": f"最多 {MAX_LOTS} 个"})
    sealed = set(form.getlist("guarantee_sealed"))
    rows = []
    for i in range(count):
        row = {name: values[i].strip() if i < len(values) else "" for name, values in columns.items()}
        row["guarantee_sealed"] = "1" if str(i + 1) in sealed else ""
        row["number"] = str(i + 1)
        rows.append(row)
    return rows or [blank_lot(1)]


def change_rows(form: MultiDict[str, str]) -> list[dict[str, str]] | None:
    """The rows after an add or remove button, or None when the form is to be saved."""
    rows = lot_rows(form)
    if form.get("action") == "add_lot":
        if len(rows) >= MAX_LOTS:
            raise InvalidInput(f"一个项目最多 {MAX_LOTS} 个标段", fields={"标段": f"最多 {MAX_LOTS} 个"})
        rows.append(blank_lot(len(rows) + 1))
    elif form.get("remove_lot"):
        index = form.get("remove_lot", "")
        if not index.isdigit() or not 1 <= int(index) <= len(rows) or len(rows) == 1:
            raise InvalidInput("要删除的标段不存在，或只剩一个标段", fields={"标段": "无法删除"})
        del rows[int(index) - 1]
    else:
        return None
    for number, row in enumerate(rows, start=1):
        row["number"] = str(number)
    return rows


def problems_for_people(exc: DomainError) -> list[str]:
    """A refused tender's errors as lines a person reads: ``投标截止时间：时间太短``, or
    ``第2标段 · 估算价：应大于 0`` for a lot."""
    if isinstance(exc, LotsInvalid):
        return exc.lines
    return field_lines(exc, TenderIn)


def _lot_data(row: Mapping[str, str]) -> dict[str, Any]:
    template = SCORING_TEMPLATES.get(row.get("template", ""))
    if template is None:
        raise InvalidInput("请选择评标办法", fields={"evaluation_method": "请选择评标办法"})
    data: dict[str, Any] = {
        "name": row.get("lot_name"),
        "estimated_price": row.get("estimated_price"),
        "bond_amount": row.get("bond_amount"),
        "evaluation_method": template["method"],
        "criteria": template["criteria"],
        "committee_size": row.get("committee_size") or 5,
        "specialties": [{"code": row.get("specialty_code") or "A08", "count": row.get("specialty_count") or 4}],
        "price_fields": [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}],
        "guarantee_sealed": row.get("guarantee_sealed") == "1",
    }
    return {k: v for k, v in data.items() if v not in (None, "")}


def tender_from_form(form: MultiDict[str, str]) -> TenderIn:
    """The tender the form describes; each lot is checked on its own first, so that its errors are
    shown under it (``LotsInvalid``)."""
    lots: list[dict[str, Any]] = []
    per_lot: dict[int, list[str]] = {}
    for number, row in enumerate(lot_rows(form), start=1):
        try:
            lot = _lot_data(row)
            parse(LotIn, lot)
        except InvalidInput as exc:
            per_lot[number] = lot_messages(exc)
            continue
        lots.append(lot)
    if per_lot:
        raise LotsInvalid(per_lot)
    deadline = form.get("bid_deadline", "")
    data: dict[str, Any] = {k: form.get(k) for k in TENDER_FIELDS}
    data["bid_deadline"] = f"{deadline}:00+08:00" if len(deadline) == 16 else deadline  # datetime-local, Beijing
    data["bid_validity_days"] = form.get("bid_validity_days") or 90
    for key in ("agency_org_id", "tenderee_org_id"):
        if form.get(key):
            data[key] = form.get(key)
    data["lots"] = lots
    return parse(TenderIn, {k: v for k, v in data.items() if v not in (None, "")})


def form_from_tender(t: Tender) -> dict[str, Any]:
    """The page form filled from a tender: its fields, and a row per lot (its first specialty)."""
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
        "lots": [
            {
                "number": str(lot.number),
                "lot_name": lot.name,
                "estimated_price": str(lot.estimated_price),
                "bond_amount": str(lot.bond_amount),
                "template": template_for(lot.criteria),
                "committee_size": str(lot.committee_size),
                "specialty_code": lot.specialties[0]["code"],
                "specialty_count": str(lot.specialties[0]["count"]),
                "guarantee_sealed": "1" if lot.guarantee_sealed else "",
            }
            for lot in t.lots
        ],
    }


def form_echo(form: MultiDict[str, str], rows: list[dict[str, str]]) -> dict[str, Any]:
    """What was sent, to fill the form again: the tender's fields and the lot rows."""
    echo: dict[str, Any] = {k: form.get(k, "") for k in (*TENDER_FIELDS, "bid_deadline", "bid_validity_days")}
    echo |= {k: form.get(k, "") for k in ("agency_org_id", "tenderee_org_id")}
    echo["lots"] = rows
    return echo
