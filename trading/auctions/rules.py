"""The law of rights trading in code: periods, the next acceptable bid, the countdown, the outcome.

Sources (the numbers themselves live in ``auction_procedure`` rows, seeded by migration 0025):

- 《招标拍卖挂牌出让国有建设用地使用权规定》(国土资源部令第39号, 2007): the reserve price kept
  secret until the end; the announcement at least 20 days before bidding or listing starts; below
  the reserve the auction ends without a sale; a listing of at least 10 days, whose increment may be
  adjusted while it runs; at its end, the highest quote not below the reserve wins, and if buyers
  still want to bid, bidding goes on (two or more, as online listing systems apply it); other
  buyers' deposits back within 5 working days, the winner's counted toward the price.
- 《企业国有资产交易监督管理办法》(国资委 财政部令第32号, 2016): formal disclosure at least 20
  working days (第十三条); the result published for at least 5 working days.

39号令's provisions are cited by what they say, not by article number: no copy of the official
text could be consulted where this was written, and a wrong article number in a refusal is worse
than none. The numbers (20 days, 10 days, 5 working days, 20 working days) are the well-known ones;
a legal review should add the article numbers (docs/auctions.md says so too).
- Exchanges' rules (e.g. 产权交易机构的网络竞价实施办法): extensions of at least 5 working days; the
  countdown (限时竞价) where each accepted bid restarts the period, so no one gains by bidding at
  the last instant.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation

from trading.auctions.models import AuctionProcedure, AuctionState, Method, Phase
from trading.procedures.calendar import Overrides, add_days, days_between, period_end
from trading.procedures.models import DayKind

CENT = Decimal("0.01")
#: an amount as typed and signed: ASCII digits, at most two decimals; no sign, exponent, grouping,
#: spaces or other scripts' digits (``Decimal`` alone takes ``"１０００"``, ``"1_000"``, ``" +1e3"``)
AMOUNT = re.compile(r"[0-9]{1,16}(?:\.[0-9]{1,2})?")
#: a price must fit Numeric(18, 2)
MAX_PRICE = Decimal("9999999999999999.99")
#: bidding numbers (竞买号牌) are drawn from 1001–9999: four digits a buyer can read out
NUMBER_RANGE = (1001, 9999)


def amount_text(value: Decimal) -> str:
    """An amount as signed and shown: a plain decimal with two places (``1234.50``)."""
    return format(value.quantize(CENT), "f")


def parse_amount(text: object) -> Decimal | None:
    """A positive amount written as plain ASCII digits with at most two decimal places, within
    Numeric(18, 2); else None."""
    if not isinstance(text, str) or not AMOUNT.fullmatch(text):
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value > MAX_PRICE or value != value.quantize(CENT, ROUND_DOWN):
        return None
    return value.quantize(CENT)


def minimum_next(starting_price: Decimal, increment: Decimal, current: Decimal | None) -> Decimal:
    """The lowest bid the room accepts now: the starting price for the first bid, then the current
    price plus the increment (加价幅度). A bid may be any higher amount (39号令, auctions and listings)."""
    return starting_price if current is None else current + increment


def phase_of(state: AuctionState) -> Phase:
    return {AuctionState.LISTING: Phase.LISTING, AuctionState.FREE: Phase.FREE}.get(state, Phase.COUNTDOWN)


def first_bidding_state(method: Method) -> AuctionState:
    """A listing opens for quotes (挂牌报价); an auction or online bidding for free bidding."""
    return AuctionState.LISTING if method is Method.LISTING else AuctionState.FREE


def increment_problem(increment: Decimal, starting_price: Decimal, current: Decimal | None) -> str | None:
    """Why an increment may not be set (a platform rule; 39号令 lets it be adjusted, not made a wall):
    it may not exceed the starting price, and the next acceptable bid must still be a price the
    room can take. None when it may."""
    if increment > starting_price:
        return "加价幅度不得超过起始价"
    if minimum_next(starting_price, increment, current) > MAX_PRICE:
        return "加价后的最低应价超出可接受的金额范围"
    return None


def countdown_end(at: dt.datetime, seconds: int) -> dt.datetime:
    """限时竞价: the countdown (re)starts at ``at``: each accepted bid restarts it."""
    return at + dt.timedelta(seconds=seconds)


def goes_to_timed_bidding(requests: int) -> bool:
    """At a listing's end, two or more buyers asking to go on means timed bidding (39号令's listing end, as
    online listing systems apply it)."""
    return requests >= 2


def sold(final_price: Decimal | None, reserve: Decimal | None) -> bool:
    """Sold to the highest bid if there is one and it is not below the reserve (39号令,
    auctions and listings); otherwise the lot fails (流拍)."""
    return final_price is not None and (reserve is None or final_price >= reserve)


def draw_number(taken: set[str]) -> str:
    """A bidding number no other buyer of the lot has, drawn at random so that it tells nothing of
    the order in which buyers registered."""
    lo, hi = NUMBER_RANGE
    while True:
        n = str(lo + secrets.randbelow(hi - lo + 1))
        if n not in taken:
            return n


def new_salt() -> str:
    return secrets.token_hex(16)


@dataclass(frozen=True)
class PeriodProblem:
    field: str
    message: str


def period_problems(
    proc: AuctionProcedure,
    announced_at: dt.datetime,
    registration_ends_at: dt.datetime,
    bidding_starts_at: dt.datetime,
    free_ends_at: dt.datetime,
    overrides: Overrides,
) -> list[PeriodProblem]:
    """What is wrong with a lot's periods under its procedure, if it is announced at ``announced_at``:
    the announcement period (39号令: 20 days; emission rules), the listing or disclosure
    period (39号令: a listing of 10 days; 32号令 第十三条: a disclosure of 20 working days from
    the announcement to the registrations' end), and their order."""
    kind = DayKind(proc.day_kind)
    unit = "日" if kind is DayKind.CALENDAR else "个工作日"
    out = []
    if days_between(announced_at, bidding_starts_at, kind, overrides) < proc.min_announcement_days:
        out.append(
            PeriodProblem(
                "bidding_starts_at",
                f"公告发布至竞价（挂牌）开始不得少于{proc.min_announcement_days}{unit}（{proc.source}）",
            )
        )
    if proc.method is Method.LISTING:
        if days_between(bidding_starts_at, free_ends_at, kind, overrides) < proc.min_listing_days:
            out.append(PeriodProblem("free_ends_at", f"挂牌期不得少于{proc.min_listing_days}{unit}（{proc.source}）"))
    elif (
        proc.min_listing_days
        and days_between(announced_at, registration_ends_at, kind, overrides) < proc.min_listing_days
    ):
        # 32号令 第十三条: the formal disclosure runs from the announcement to the registrations' end
        out.append(
            PeriodProblem("registration_ends_at", f"信息披露期不得少于{proc.min_listing_days}{unit}（{proc.source}）")
        )
    if proc.method is not Method.LISTING and not registration_ends_at <= bidding_starts_at:
        out.append(PeriodProblem("registration_ends_at", "报名截止时间不得晚于竞价开始时间"))
    if proc.method is not Method.LISTING and not bidding_starts_at < free_ends_at:
        out.append(PeriodProblem("free_ends_at", "自由竞价结束时间应晚于竞价开始时间"))
    if proc.method is Method.LISTING and not bidding_starts_at < free_ends_at:
        out.append(PeriodProblem("free_ends_at", "挂牌截止时间应晚于挂牌开始时间"))
    if proc.method is Method.LISTING and not registration_ends_at <= free_ends_at:
        out.append(PeriodProblem("registration_ends_at", "报名截止时间不得晚于挂牌截止时间"))
    if announced_at >= registration_ends_at:
        out.append(PeriodProblem("registration_ends_at", "报名截止时间应晚于公告发布时间"))
    return out


def refund_due(ended_at: dt.datetime, proc: AuctionProcedure, overrides: Overrides) -> dt.datetime:
    """The limit for paying back the other buyers' deposits: ``refund_days`` working days after the
    end (39号令: 5 working days; exchanges' rules for property)."""
    return period_end(ended_at, proc.refund_days, DayKind.WORKING, overrides)


def publicity_end(ended_at: dt.datetime, proc: AuctionProcedure, overrides: Overrides) -> dt.datetime:
    """The end of the result's publicity (成交公示): ``publicity_days`` working days (32号令:
    at least 5; a platform default for land)."""
    return period_end(ended_at, proc.publicity_days, DayKind.WORKING, overrides)


def extended(free_ends_at: dt.datetime, days: int, proc: AuctionProcedure, overrides: Overrides) -> dt.datetime:
    """A disclosure extended by ``days`` (at least ``extension_days``, exchanges' rules)."""
    return add_days(free_ends_at, days, DayKind(proc.day_kind), overrides)
