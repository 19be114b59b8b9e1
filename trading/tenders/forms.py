"""The tender page's form: the tender and its lots (标段), each with a scoring template, in Beijing
time; to a ``TenderIn`` and back.

Each lot is a row of inputs with the same names (``lot_name``, ``estimated_price`` …), read in
order with ``getlist``; the 保函加密 checkbox carries its row's number, since an unchecked box sends
nothing. Rows are added and removed by submitting the form (``再加一个标段``, ``删除本标段``): no
script is needed, and nothing is saved until ``保存``.

A draft made through the API may hold what the form has no input for: criteria of its own, more
than one specialty, its own price sheet, a lot's own region. Saving the form must not change them
behind the tenderee's back, so each row carries the number of the lot it was filled from
(``lot_origin``) and takes those settings from that lot; the page names them under the lot
(``kept_settings``). A row added on the page has no origin and gets the form's defaults.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from archive import clock
from trading.accounts.form_errors import WHOLE, field_errors, field_lines
from trading.accounts.regions import region_name
from trading.core.errors import DomainError, InvalidInput
from trading.core.schemas import parse
from trading.procedures.scoring import SCORING_TEMPLATES
from trading.procedures.specialties import specialty_name
from trading.tenders.models import EvaluationMethod, Lot, Tender
from trading.tenders.operations import tender_announcement
from trading.tenders.schemas import Criteria, LotIn, TenderIn

MAX_LOTS = 50  # TenderIn.lots
LOT_FIELDS = (
    "lot_name",
    "estimated_price",
    "bond_amount",
    "template",
    "committee_size",
    "specialty_code",
    "specialty_count",
    "lot_origin",  # hidden: the number of the saved lot the row was filled from
)
#: a datetime-local input's value: minutes, or seconds with an optional fraction
LOCAL_INPUT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?")
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
        "lot_origin": "",
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


#: the template select's value for "the criteria this lot already has" (not one of the templates)
KEEP = "keep"
#: a lot the page makes prices its sheet (开标一览表) with this field besides the total
DEFAULT_PRICE_FIELDS = [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}]
#: each template's criteria as a lot stores them (with the defaults the schema fills in, such as
#: a factor's ``objective``), to tell which template a saved lot uses
STORED_TEMPLATES = {
    key: Criteria.model_validate(t["criteria"]).model_dump(mode="json") for key, t in SCORING_TEMPLATES.items()
}


def template_of(lot: Lot) -> str | None:
    """The key of the template whose criteria ``lot`` holds; None for criteria of its own."""
    return next((k for k, c in STORED_TEMPLATES.items() if c == lot.criteria), None)


def origins(tender: Tender | None) -> dict[str, Lot]:
    """The saved lots a row may name as its origin, by number (none for a new tender)."""
    return {str(lot.number): lot for lot in tender.lots} if tender is not None else {}


def own_region(lot: Lot) -> str | None:
    """A lot's region when it is not the tender's (a lot without one follows the tender's)."""
    return lot.region if lot.region != lot.tender.region else None


def _lot_data(row: Mapping[str, str], origin: Lot | None) -> dict[str, Any]:
    key = row.get("template", "")
    if key == KEEP and origin is not None:
        method, criteria = origin.evaluation_method.value, origin.criteria
    elif key in SCORING_TEMPLATES:
        method, criteria = SCORING_TEMPLATES[key]["method"], SCORING_TEMPLATES[key]["criteria"]
    else:
        raise InvalidInput("请选择评标办法", fields={"evaluation_method": "请选择评标办法"})
    first = {"code": row.get("specialty_code") or "A08", "count": row.get("specialty_count") or 4}
    data: dict[str, Any] = {
        "name": row.get("lot_name"),
        "estimated_price": row.get("estimated_price"),
        "bond_amount": row.get("bond_amount"),
        "evaluation_method": method,
        "criteria": criteria,
        "committee_size": row.get("committee_size") or 5,
        # the first specialty is the row's; the others, which the form does not show, are kept
        "specialties": [first, *(origin.specialties[1:] if origin is not None else [])],
        "price_fields": origin.price_fields if origin is not None else DEFAULT_PRICE_FIELDS,
        "region": own_region(origin) if origin is not None else None,
        "guarantee_sealed": row.get("guarantee_sealed") == "1",
    }
    return {k: v for k, v in data.items() if v not in (None, "")}


def kept_settings(lot: Lot) -> list[str]:
    """What the form keeps of ``lot`` without showing an input for it, as the page says it."""
    kept: list[str] = []
    if template_of(lot) is None:
        factors = "、".join(
            f"{f['name']} {f['weight']} 分" + ("（客观分）" if f.get("objective") else "")
            for f in lot.criteria["factors"]
        )
        compliance = len(lot.criteria["compliance"])
        price = f"价格分 {lot.criteria['price']['weight']} 分"
        lowest = lot.evaluation_method is EvaluationMethod.LOWEST_PRICE
        scored = "经评审的最低投标价法" if lowest else (f"评分因素 {factors}；{price}" if factors else price)
        kept.append(f"本标段自定的评分标准：符合性审查 {compliance} 项；{scored}")
    kept += [f"另抽取{specialty_name(s['code'])}专家 {s['count']} 人" for s in lot.specialties[1:]]
    if lot.price_fields != DEFAULT_PRICE_FIELDS:
        labels = "、".join(f["label"] for f in lot.price_fields) or "无（只报总价）"
        kept.append(f"开标一览表字段：{labels}")
    if own_region(lot) is not None:
        kept.append(f"标段所在地区：{region_name(lot.region)}")
    return kept


def row_settings(rows: list[dict[str, str]], tender: Tender | None) -> dict[int, tuple[bool, list[str]]]:
    """For each row that came from a saved lot, by row number: whether its own criteria may be
    kept (the template select offers ``KEEP``) and what else is kept."""
    found = origins(tender)
    out: dict[int, tuple[bool, list[str]]] = {}
    for row in rows:
        lot = found.get(row.get("lot_origin", ""))
        if lot is not None:
            out[int(row["number"])] = (template_of(lot) is None, kept_settings(lot))
    return out


def local_input(at: dt.datetime) -> str:
    """An instant as a datetime-local input's value in Beijing time: minutes, or seconds where it
    has them (a deadline set through the API), so that saving the form unchanged keeps it."""
    try:
        local = clock.local(at).replace(tzinfo=None)
    except OverflowError:  # stored before requests were bounded (schemas.instant): to be set again
        return ""
    return local.strftime("%Y-%m-%dT%H:%M") if local.second == local.microsecond == 0 else local.isoformat()


def _deadline_text(raw: str) -> str:
    """A datetime-local value (Beijing time, no zone) as an ISO instant; anything else as sent, for
    the schema to refuse by name."""
    if LOCAL_INPUT.fullmatch(raw):
        return f"{raw}:00+08:00" if len(raw) == 16 else f"{raw}+08:00"
    return raw


def tender_from_form(form: MultiDict[str, str], tender: Tender | None = None) -> TenderIn:
    """The tender the form describes (``tender``: the one being edited, whose lots the rows name
    as their origins); each lot is checked on its own first, so that its errors are shown under it
    (``LotsInvalid``)."""
    found = origins(tender)
    lots: list[dict[str, Any]] = []
    per_lot: dict[int, list[str]] = {}
    for number, row in enumerate(lot_rows(form), start=1):
        try:
            lot = _lot_data(row, found.get(row["lot_origin"]))
            parse(LotIn, lot)
        except InvalidInput as exc:
            per_lot[number] = lot_messages(exc)
            continue
        lots.append(lot)
    if per_lot:
        raise LotsInvalid(per_lot)
    data: dict[str, Any] = {k: form.get(k) for k in TENDER_FIELDS}
    data["bid_deadline"] = _deadline_text(form.get("bid_deadline", "").strip())
    data["bid_validity_days"] = form.get("bid_validity_days") or 90
    data["joint_opening"] = form.get("joint_opening") == "1"
    for key in ("agency_org_id", "tenderee_org_id"):
        if form.get(key):
            data[key] = form.get(key)
    data["lots"] = lots
    return parse(TenderIn, {k: v for k, v in data.items() if v not in (None, "")})


def form_from_tender(t: Tender) -> dict[str, Any]:
    """The page form filled from a tender: its fields, and a row per lot (its first specialty; the
    rest is kept from the lot the row names, ``lot_origin``)."""
    ann = tender_announcement(t)
    return {
        "title": t.title,
        "description": t.description,
        "category": t.category.value,
        "procedure_code": t.procedure_code,
        "region": t.region,
        "bid_deadline": local_input(t.bid_deadline),
        "bid_validity_days": t.bid_validity_days,
        "announcement_body": ann.body,
        "agency_org_id": t.agency_org_id or "",
        "tenderee_org_id": t.tenderee_org_id,
        "joint_opening": t.joint_opening,
        "lots": [
            {
                "number": str(lot.number),
                "lot_name": lot.name,
                "estimated_price": str(lot.estimated_price),
                "bond_amount": str(lot.bond_amount),
                "template": template_of(lot) or KEEP,
                "committee_size": str(lot.committee_size),
                "specialty_code": lot.specialties[0]["code"],
                "specialty_count": str(lot.specialties[0]["count"]),
                "guarantee_sealed": "1" if lot.guarantee_sealed else "",
                "lot_origin": str(lot.number),
            }
            for lot in t.lots
        ],
    }


def form_echo(form: MultiDict[str, str], rows: list[dict[str, str]]) -> dict[str, Any]:
    """What was sent, to fill the form again: the tender's fields and the lot rows."""
    echo: dict[str, Any] = {k: form.get(k, "") for k in (*TENDER_FIELDS, "bid_deadline", "bid_validity_days")}
    echo |= {k: form.get(k, "") for k in ("agency_org_id", "tenderee_org_id")}
    echo["joint_opening"] = form.get("joint_opening") == "1"
    echo["lots"] = rows
    return echo
