"""Setting a lot up (标的的设立与发布): the draft, its publication with the reserve's commitment, the
signed announcement, a cancellation before any bid, and a disclosure extension.

Publication checks the lot's periods against its procedure with the holiday calendar
(``rules.period_problems``: 国土资源部令第39号; 国资委 财政部令第32号 第十三条) and
refuses each wrong period by its field. The reserve price (底价, 39号令) is committed, never
stored in clear: the public sees SM3(salt ‖ price) from publication on, the price and salt stay
wrapped with the platform's key-encryption key (``reserve.seal``) until the lot ends
(``results.finish`` opens them). The announcement is a platform-signed statement
(``auction_announcement``) of everything a buyer relies on: the prices, the reserve's commitment, the
periods, the countdown and each document's SM3; a signed checkpoint follows, so the commitment
provably predates the first bid.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from archive.transparency import request_checkpoint
from signing.digest import sm3_hex
from signing.statements import sign_statement
from trading.accounts.models import User
from trading.accounts.permissions import Permission, has
from trading.auctions import reserve, rules
from trading.auctions.bidding import advance, get_auction, procedure_of
from trading.auctions.documents import lot_documents
from trading.auctions.lifecycle import feed, iso, move_auction
from trading.auctions.models import Auction, AuctionDocument, AuctionProcedure, AuctionState, Method
from trading.auctions.schemas import AuctionIn
from trading.core.errors import Conflict, Forbidden, InvalidInput
from trading.core.platform_keys import key_encryption_key
from trading.core.services import Services
from trading.procedures.operations import overrides

S = AuctionState
STATEMENT_TYPE = "auction_announcement"
FORMAT = "ggzy-auction-announcement/1"
#: the states in which a lot may still be cancelled (终止): before any bid can have been made
CANCELLABLE = (S.DRAFT, S.ANNOUNCED)
#: the states in which a disclosure may be extended
EXTENDABLE = (S.ANNOUNCED, S.LISTING)


def require_manager(user: User) -> None:
    if not has(user, Permission.AUCTION_MANAGE):
        raise Forbidden("只有交易中心工作人员可以设立和发布标的")


def procedure(session: Session, code: str) -> AuctionProcedure:
    proc = session.get(AuctionProcedure, code)
    if proc is None:
        raise InvalidInput(f"未知的交易方式 {code}", fields={"procedure_code": "不存在"})
    return proc


def free_end(proc: AuctionProcedure, data: AuctionIn) -> dt.datetime:
    """The end of free bidding: for a listing its end, which must be given; for an auction or online
    bidding the procedure's free-bidding minutes after the start unless staff set it."""
    if data.free_ends_at is not None:
        return data.free_ends_at
    if proc.method is Method.LISTING:
        raise InvalidInput("挂牌出让须填写挂牌截止时间", fields={"free_ends_at": "必填"})
    return data.bidding_starts_at + dt.timedelta(minutes=proc.free_minutes)


def _apply(a: Auction, proc: AuctionProcedure, data: AuctionIn) -> None:
    problem = rules.increment_problem(data.increment, data.starting_price, None)
    if problem is not None:
        raise InvalidInput(problem, code="invalid_amount", fields={"increment": problem})
    a.title, a.procedure_code, a.category, a.region = data.title, proc.code, proc.category, data.region
    a.transferor, a.description, a.qualification = data.transferor, data.description, data.qualification
    a.starting_price, a.increment, a.deposit = data.starting_price, data.increment, data.deposit
    a.registration_ends_at, a.bidding_starts_at = data.registration_ends_at, data.bidding_starts_at
    a.free_ends_at = free_end(proc, data)
    a.countdown_seconds = proc.countdown_seconds


def facts(a: Auction) -> dict[str, Any]:
    """What the trail says of a lot's terms (never the reserve: it is not on the lot before the end)."""
    return {
        "code": a.code,
        "title": a.title,
        "procedure": a.procedure_code,
        "region": a.region,
        "transferor": a.transferor,
        "starting_price": rules.amount_text(a.starting_price),
        "increment": rules.amount_text(a.increment),
        "deposit": rules.amount_text(a.deposit),
        **periods(a),
    }


def periods(a: Auction) -> dict[str, str | None]:
    return {
        "announced_at": iso(a.announced_at),
        "registration_ends_at": iso(a.registration_ends_at),
        "bidding_starts_at": iso(a.bidding_starts_at),
        "free_ends_at": iso(a.free_ends_at),
    }


def announcement_sm3(a: Auction) -> str | None:
    """SM3 of the signed announcement file (what the trail's ``auction.announce`` event names)."""
    return sm3_hex(a.announcement_statement.encode()) if a.announcement_statement is not None else None


# ---------------------------------------------------------------- the draft
def create_draft(session: Session, user: User, data: AuctionIn) -> Auction:
    """A new lot in draft, numbered ``PM-<year>-<id>`` (the year in Beijing time)."""
    require_manager(user)
    proc = procedure(session, data.procedure_code)
    now = clock.now()
    a = Auction(code=f"TMP-{uuid.uuid4().hex[:20]}", created_by=user.id, created_at=now, current_seq=0)
    _apply(a, proc, data)
    session.add(a)
    session.flush()
    a.code = f"PM-{clock.local(now).year}-{a.id:04d}"
    session.flush()
    record_event(session, user, "auction.create", a, facts(a))
    return a


def update_draft(session: Session, user: User, code: str, data: AuctionIn) -> Auction:
    require_manager(user)
    a = get_auction(session, code, for_update=True)
    if a.state is not S.DRAFT:
        raise Conflict("标的已发布，不能再修改；如需变更请终止后重新发布", code="wrong_state")
    _apply(a, procedure(session, data.procedure_code), data)
    session.flush()
    record_event(session, user, "auction.update", a, facts(a))
    return a


# ---------------------------------------------------------------- publication
def period_refusal(problems: list[rules.PeriodProblem]) -> InvalidInput:
    """Each wrong period by its field, named as the lot's form names it."""
    fields: dict[str, str] = {}
    for p in problems:
        fields[p.field] = f"{fields[p.field]}；{p.message}" if p.field in fields else p.message
    names = {k: str(AuctionIn.model_fields[k].title) for k in fields if k in AuctionIn.model_fields}
    return InvalidInput(
        "标的的时间安排不符合交易方式的规定，请修改标出的时间", code="auction_periods", fields=fields, names=names
    )


def check_periods(session: Session, a: Auction, proc: AuctionProcedure, announced_at: dt.datetime) -> None:
    problems = rules.period_problems(
        proc, announced_at, a.registration_ends_at, a.bidding_starts_at, a.free_ends_at, overrides(session)
    )
    if problems:
        raise period_refusal(problems)


def reserve_amount(text: str | None) -> Decimal | None:
    """The reserve as typed: None when there is none; a valid amount's text; else a named 422. A
    reserve above the starting price is the usual case (a land lot's 底价), so no bound but validity."""
    if text is None or not text.strip():
        return None
    price = rules.parse_amount(text)
    if price is None:
        raise InvalidInput(
            "底价应为大于 0、至多两位小数的金额，例如 130000000.00",
            code="invalid_amount",
            fields={"reserve_price": "金额格式错误"},
        )
    return price


def announcement_body(a: Auction, proc: AuctionProcedure, docs: list[AuctionDocument]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "code": a.code,
        "title": a.title,
        "procedure": proc.code,
        "method": proc.method.value,
        "category": a.category,
        "transferor": a.transferor,
        "region": a.region,
        "currency": a.currency,
        "starting_price": rules.amount_text(a.starting_price),
        "increment": rules.amount_text(a.increment),
        "deposit": rules.amount_text(a.deposit),
        "reserve_sm3": a.reserve_sm3,
        **periods(a),
        "countdown_seconds": a.countdown_seconds,
        "documents": [{"name": d.name, "sm3": d.sm3, "size": d.size} for d in docs],
    }


def publish(session: Session, services: Services, user: User, code: str, reserve_price: str | None) -> Auction:
    """Publish a draft: periods checked, the reserve committed, the announcement signed, DRAFT →
    ANNOUNCED; a checkpoint is asked for, so the commitment's time is signed too."""
    require_manager(user)
    a = get_auction(session, code, for_update=True)
    if a.state is not S.DRAFT:
        raise Conflict(f"标的状态为“{a.state.label}”，只有草稿可以发布", code="wrong_state")
    proc = procedure_of(session, a)
    now = clock.now()
    check_periods(session, a, proc, now)
    price = reserve_amount(reserve_price)
    if price is not None:
        a.reserve_sm3, a.reserve_box = reserve.seal(key_encryption_key(services.settings), price)
    a.announced_at = now
    body = announcement_body(a, proc, lot_documents(session, a))
    keys = services.keys
    st = sign_statement(STATEMENT_TYPE, body, key=keys.sign_key, cert=keys.sign_cert, now=now)
    a.announcement_statement = st.to_json().decode()
    move_auction(
        session,
        user,
        a,
        S.ANNOUNCED,
        at=now,
        reserve_sm3=a.reserve_sm3,
        announcement_sm3=sm3_hex(st.to_json()),
        documents=len(body["documents"]),
    )
    request_checkpoint(session, "auction_announce", f"auction:{a.code}")
    return a


# ---------------------------------------------------------------- after publication
def cancel(session: Session, services: Services, user: User, code: str, reason: str) -> Auction:
    """终止 a lot before its bidding starts (a draft, or announced and not yet bidding)."""
    require_manager(user)
    a = get_auction(session, code, for_update=True)
    advance(session, services, a, clock.now())  # a start already due is written down first
    if a.state not in CANCELLABLE:
        raise Conflict(f"标的状态为“{a.state.label}”，竞价开始后不能终止", code="wrong_state")
    if not reason.strip():
        raise InvalidInput("请填写终止理由", fields={"reason": "必填"})
    move_auction(session, user, a, S.CANCELLED, at=clock.now(), reason=reason)
    return a


def extend(session: Session, services: Services, user: User, code: str, days: int, reason: str) -> Auction:
    """Extend a disclosure (信息披露期延期) by ``days`` working days, at least the procedure's
    ``extension_days`` (exchanges' rules: 5), before the bidding starts: every period still ahead
    moves by the same working days."""
    require_manager(user)
    a = get_auction(session, code, for_update=True)
    now = clock.now()
    advance(session, services, a, now)
    proc = procedure_of(session, a)
    if proc.extension_days <= 0:
        raise Conflict(f"“{proc.name}”不设信息披露期延期", code="wrong_state")
    if a.state not in EXTENDABLE or (a.state is S.ANNOUNCED and now >= a.bidding_starts_at):
        raise Conflict(f"标的状态为“{a.state.label}”，竞价开始后不能延期", code="wrong_state")
    if days < proc.extension_days:
        raise InvalidInput(
            f"每次延期不少于{proc.extension_days}个工作日（{proc.source}）",
            fields={"days": f"至少 {proc.extension_days} 个工作日"},
        )
    before = periods(a)
    days_off = overrides(session)
    if a.registration_ends_at > now:
        a.registration_ends_at = rules.extended(a.registration_ends_at, days, proc, days_off)
    if a.bidding_starts_at > now:
        a.bidding_starts_at = rules.extended(a.bidding_starts_at, days, proc, days_off)
    a.free_ends_at = rules.extended(a.free_ends_at, days, proc, days_off)
    session.flush()
    after = periods(a)
    record_event(session, user, "auction.extend", a, {"days": days, "reason": reason, "from": before, "to": after})
    feed(session, a, "extend", {"days": days, "reason": reason, **after})
    return a
