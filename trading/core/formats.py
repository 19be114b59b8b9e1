"""How amounts and instants are written for people: pages, PDFs and the CLI use these, never their own.

Amounts are kept as ``Decimal`` yuan with two places; legal documents (the award notice, the opening and
evaluation records) also state them in Chinese capital numerals (大写), as paper tender documents and bank
practice require (《支付结算办法》附一《正确填写票据和结算凭证的基本规定》: 中文大写金额数字).
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from archive import clock

DIGITS = "零壹贰叁肆伍陆柒捌玖"
SMALL_UNITS = ["", "拾", "佰", "仟"]
BIG_UNITS = ["", "万", "亿", "万亿"]
LARGEST = Decimal("9999999999999999.99")
"""The largest amount written in words: 万亿 is the last unit the rule names."""


def as_amount(value: Decimal | str | int | float | None) -> Decimal | None:
    """``value`` as exact yuan, or None when it is not a finite number below 万亿. Never rounded:
    a figure on a record is the one submitted, and two prices that differ never read the same."""
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    if not amount.is_finite() or abs(amount) > LARGEST:
        return None
    return amount


def money(value: Decimal | str | int | float | None) -> str:
    """``12800000`` → ``12,800,000.00``, ``8999999.995`` → ``8,999,999.995`` (at least two decimals,
    never fewer digits than given); what is not an amount below 万亿 is shown as it came."""
    amount = as_amount(value)
    if amount is None:
        return "" if value is None else str(value)
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(Decimal("0.01"))  # only adds zeros
    return f"{amount:,f}"


def _four_digits(n: int) -> str:
    """0 < n < 10000 in capitals, with 零 for an inner gap (1005 → 壹仟零伍)."""
    out = ""
    zero = False
    for position in range(3, -1, -1):
        d = n // 10**position % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += DIGITS[d] + SMALL_UNITS[position]
    return out


def amount_in_words(value: Decimal | str | int | float | None) -> str:
    """Yuan in capital numerals: ``12800000.00`` → ``人民币壹仟贰佰捌拾万元整``,
    ``1005.30`` → ``人民币壹仟零伍元叁角``, ``0.05`` → ``人民币伍分``.

    Empty for what is not an amount, is beyond 万亿 or has parts of a fen (never a wrong figure on a
    legal document)."""
    amount = as_amount(value)
    if amount is None or amount != amount.quantize(Decimal("0.01")):
        return ""  # 大写 stops at 分: a finer amount is never written as a rounded one
    sign = "负" if amount < 0 else ""
    fen_total = int(abs(amount) * 100)
    yuan, fen_part = divmod(fen_total, 100)
    jiao, fen = divmod(fen_part, 10)
    words = ""
    groups: list[int] = []
    while yuan:
        yuan, group = divmod(yuan, 10000)
        groups.append(group)
    gap = False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            gap = bool(words)
            continue
        if words and (gap or group < 1000):
            words += "零"
        words += _four_digits(group) + BIG_UNITS[index]
        gap = False
    if words:
        words += "元"
    if jiao == 0 and fen == 0:
        return f"人民币{sign}{words or '零元'}整"
    if jiao:
        words += DIGITS[jiao] + "角"
    elif words:
        words += "零"
    if fen:
        words += DIGITS[fen] + "分"
    return f"人民币{sign}{words}"


def local_time(value: dt.datetime | str | None, seconds: bool = True) -> str:
    """Beijing time (``GGZY_TIMEZONE``) for an instant or an ISO string; storage and the API stay UTC."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    try:
        shown = clock.local(value)
    except OverflowError:  # an instant near year 1 or 9999 stored before inputs were bounded
        return value.strftime("%Y-%m-%d %H:%M（UTC）")
    return shown.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def month_of(at: dt.datetime) -> str:
    """The Beijing month of an instant, ``YYYY-MM`` (statistics and ratings group by it)."""
    return clock.local(at).strftime("%Y-%m")


def decimal_text(value: Decimal | None, places: int = 2) -> str:
    """A figure for people, rounded half up to ``places`` decimals ("—" without one)."""
    if value is None:
        return "—"
    return str(value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))
