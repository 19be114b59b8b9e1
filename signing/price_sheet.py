"""The price sheet (开标一览表): a structured file inside the bid package, validated against the
lot's declared fields before sealing, so that a bid never fails at the opening for its format."""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from signing.bounded_zip import BoundedZip
from signing.canonical import canonical_json

FILENAME = "开标一览表.json"
#: The most a price sheet may hold (a few hundred bytes in practice); the opening reads no more.
MAX_BYTES = 64 * 1024
_AMOUNT = re.compile(r"^\d{1,16}(\.\d{1,2})?$", re.ASCII)  # "١٢٣" is a \d to Python too


class PriceSheetError(ValueError):
    pass


def valid_price(price: object) -> bool:
    """Whether ``price`` is a bid price as the sheet writes it: a string of a positive amount in yuan
    with at most two decimals. The builder refuses anything else before sealing; the opening reads
    a hand-made sheet with this same rule, so a price of 8999999.995 or -1 is never read out."""
    return isinstance(price, str) and bool(_AMOUNT.match(price)) and Decimal(price) > 0


def build_price_sheet(
    tender: str, lot: int, price: str, fields: dict[str, str], declared: list[dict[str, Any]]
) -> bytes:
    """Canonical JSON of the price sheet; every declared field required, nothing undeclared."""
    if not valid_price(price):
        raise PriceSheetError(f"投标报价 {price!r} 应为正数，最多两位小数 (price must be a positive amount)")
    names = {f["name"]: f for f in declared}
    unknown = sorted(set(fields) - set(names))
    if unknown:
        raise PriceSheetError(f"标段未声明这些字段：{', '.join(unknown)} (undeclared fields)")
    values: dict[str, Any] = {}
    for name, spec in names.items():
        if name not in fields:
            raise PriceSheetError(f"缺少字段 {name}（{spec['label']}）(missing field)")
        raw = fields[name]
        if spec["kind"] == "integer":
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:  # "²" is a digit to isdigit
                raise PriceSheetError(f"{spec['label']} 应为非负整数 (must be an integer)")
            values[name] = int(raw)
        elif spec["kind"] == "amount":
            try:
                ok = bool(_AMOUNT.match(raw)) and Decimal(raw) >= 0
            except InvalidOperation:
                ok = False
            if not ok:
                raise PriceSheetError(f"{spec['label']} 应为金额，最多两位小数 (must be an amount)")
            values[name] = raw
        else:
            if not 1 <= len(raw) <= 200:
                raise PriceSheetError(f"{spec['label']} 应为 1–200 个字 (text 1–200 characters)")
            values[name] = raw
    sheet = canonical_json({"tender": tender, "lot": lot, "price": price, "fields": values})
    if len(sheet) > MAX_BYTES:
        raise PriceSheetError(f"开标一览表超过 {MAX_BYTES} 字节 (price sheet too large)")
    return sheet


def labelled_fields(fields: dict[str, Any], declared: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """A sheet's fields as ``(label, kind, value)`` in the lot's declared order: the lot's declaration
    is the one table of their names (``duration_days`` → 工期（日历天）) for the room, the record
    and ``ggzy-bid``. A field the lot does not declare (an older sheet) keeps its name, kind text."""
    names = {f["name"]: f for f in declared}
    rows = [(spec["label"], spec["kind"], fields[name]) for name, spec in names.items() if name in fields]
    rows += [(name, "text", value) for name, value in sorted(fields.items()) if name not in names]
    return rows


def read_price_sheet(package: BoundedZip) -> Any:
    """The parsed price sheet of a bid package, or None if it has none or it is not JSON. Reads
    at most ``MAX_BYTES`` (``ArchiveRefused`` past that). Deeply nested JSON is not JSON here:
    Python's parser would raise RecursionError, which a caller would take for its own fault."""
    raw = package.read(FILENAME, MAX_BYTES)
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return None
