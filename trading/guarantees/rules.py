"""保函真伪校验: what a guarantee must say to satisfy a lot's bid bond, as plain functions.

The issuer's signature is over ``signing.statements.guarantee_statement``; its certificate must be
the issuer's registered signing certificate, chained to a trusted root and not revoked. The terms
must match the order the platform sent: beneficiary the tenderee, principal the bidder, the lot,
at least the bond (Reg 26: at most 2 % of the estimate, set by the tenderee), in force from no later
than the bid deadline until at least the end of the bid validity period (Reg 26).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from signing.canonical import parse_canonical
from signing.certs import Certificate
from signing.errors import InvalidSignature, StatementError
from signing.statements import GUARANTEE_FIELDS, GUARANTEE_PURPOSE, guarantee_commitment
from trading.core.errors import InvalidInput

NUMBER = re.compile(r"^[A-Za-z0-9\-_/]{4,64}$")
#: 保函加密: what a sealed guarantee names only by commitment until the opening
SEALED_FIELDS = ("tender", "lot", "beneficiary")


class GuaranteeRefused(InvalidInput):
    """A guarantee that does not satisfy the bond: named by ``code``, shown to the bidder."""

    code = "guarantee_refused"


@dataclass(frozen=True)
class OrderFacts:
    """What the platform sent the issuer (and so what the guarantee must say)."""

    order: int
    issuer: str  # credit codes
    beneficiary: str
    principal: str
    tender: str
    lot: int
    bond: Decimal
    valid_until: dt.date  # the bid validity's last day
    deadline: dt.date  # the bid deadline's (Beijing) date


def refuse(code: str, message: str) -> GuaranteeRefused:
    return GuaranteeRefused(message, code=code)


def parse_content(content: str) -> dict[str, Any]:
    """The signed content as the issuer sent it: canonical JSON with exactly the guarantee fields."""
    try:
        value = parse_canonical(content.encode())
    except StatementError as exc:
        raise refuse("malformed", f"保函内容不是规范 JSON：{exc}") from None
    if not isinstance(value, dict) or value.get("purpose") != GUARANTEE_PURPOSE:
        raise refuse("malformed", f"保函内容的 purpose 应为 {GUARANTEE_PURPOSE}")
    fields = set(value) - {"purpose"}
    if fields != set(GUARANTEE_FIELDS):
        missing = sorted(set(GUARANTEE_FIELDS) - fields)
        extra = sorted(fields - set(GUARANTEE_FIELDS))
        raise refuse("malformed", f"保函字段不符：缺少 {missing or '无'}，多余 {extra or '无'}")
    return value


def _date(value: Any, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise refuse("malformed", f"{name} 应为日期（YYYY-MM-DD）") from None


def _amount(value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise refuse("malformed", "保函金额应为十进制字符串，如 200000.00") from None
    if not amount.is_finite() or amount <= 0 or amount.as_tuple().exponent < -2:  # type: ignore[operator]
        raise refuse("malformed", "保函金额应为正数，最多两位小数")
    return amount


def check_signature(content: str, signature_b64: str, signer_der: bytes, registered: Certificate) -> None:
    """The issuer's signature, by its registered signing certificate (whose chain and revocation
    the caller has checked: ``trading.pki.operations.registered_signing_cert``)."""
    if registered.der != signer_der:
        raise refuse("signer_not_registered", "签名证书不是出具机构在平台登记的签名证书")
    try:
        registered.public_key.verify(base64.b64decode(signature_b64, validate=True), content.encode())
    except (ValueError, InvalidSignature):
        raise refuse("signature_invalid", "保函签名无效（内容被改动或不是该机构签发）") from None


def _check_sealed(value: dict[str, Any]) -> None:
    for name in SEALED_FIELDS:
        field = value[name]
        if not (
            isinstance(field, dict)
            and set(field) == {"sm3"}
            and isinstance(field["sm3"], str)
            and len(field["sm3"]) == 64
        ):
            raise refuse("not_sealed", f'本标段要求保函加密：{name} 应为承诺值 {{"sm3": …}}，开标时再揭示')


def reveal(value: dict[str, Any], openings: Any) -> dict[str, Any]:
    """The content with its sealed fields opened, if every opening matches its commitment."""
    if not isinstance(openings, dict) or set(openings) != set(SEALED_FIELDS):
        raise refuse("opening_mismatch", f"应揭示 {', '.join(SEALED_FIELDS)} 三项（value 与 salt）")
    opened = dict(value)
    for name in SEALED_FIELDS:
        o = openings[name]
        if (
            not isinstance(o, dict)
            or set(o) != {"value", "salt"}
            or not isinstance(o["salt"], str)
            or len(o["salt"]) < 32
        ):
            raise refuse("opening_mismatch", f'{name} 的揭示应为 {{"value", "salt"}}（salt 至少 16 字节）')
        if guarantee_commitment(o["value"], o["salt"]) != value[name]["sm3"]:
            raise refuse("opening_mismatch", f"{name} 的揭示值与保函中的承诺不符")
        opened[name] = o["value"]
    return opened


def check_terms(
    value: dict[str, Any], facts: OrderFacts, document_sm3: str | None, *, sealed: bool = False
) -> tuple[Decimal, dt.date, dt.date]:
    """Every term against the order; the first that fails is named. Returns (amount, starts, ends).
    ``sealed``: the lot's sealed fields are commitments, checked at the reveal; so is the document
    (``document_sm3`` None), which names the project."""
    if sealed:
        _check_sealed(value)
    if value["order"] != facts.order:
        raise refuse("wrong_order", "保函对应的申请单号与本申请不符")
    if value["issuer"] != facts.issuer:
        raise refuse("wrong_issuer", "保函的出具机构与申请选择的机构不符")
    if not sealed and (value["tender"] != facts.tender or value["lot"] != facts.lot):
        raise refuse("wrong_lot", "保函对应的项目或标段与申请不符")
    if not sealed and value["beneficiary"] != facts.beneficiary:
        raise refuse("wrong_beneficiary", "保函受益人不是本项目招标人")
    if value["principal"] != facts.principal:
        raise refuse("wrong_principal", "保函被保证人不是申请的投标人")
    if value["currency"] != "CNY":
        raise refuse("wrong_currency", "保函币种应为人民币（CNY）")
    if not isinstance(value["number"], str) or not NUMBER.match(value["number"]):
        raise refuse("malformed", "保函编号应为 4–64 位字母、数字或 -_/")
    if not isinstance(value["verification_code"], str) or not 4 <= len(value["verification_code"]) <= 64:
        raise refuse("malformed", "保函验真码应为 4–64 个字符")
    amount = _amount(value["amount"])
    if amount < facts.bond:
        raise refuse("amount_below_bond", f"保函金额 {amount} 元低于本标段投标保证金 {facts.bond} 元")
    starts, ends = _date(value["starts_on"], "starts_on"), _date(value["ends_on"], "ends_on")
    if starts > facts.deadline:
        raise refuse("starts_after_deadline", f"保函生效日 {starts} 晚于投标截止日 {facts.deadline}")
    if ends < facts.valid_until:
        raise refuse(
            "expires_too_early", f"保函到期日 {ends} 早于投标有效期届满日 {facts.valid_until}（实施条例第二十六条）"
        )
    if not isinstance(value["document_sm3"], str) or len(value["document_sm3"]) != 64:
        raise refuse("malformed", "document_sm3 应为 64 位十六进制 SM3")
    if document_sm3 is not None and value["document_sm3"] != document_sm3:
        raise refuse("document_hash_mismatch", "保函文件的 SM3 与签名内容不符")
    return amount, starts, ends
