"""Reading the register (the API, the pages and ``ggzy credit`` alike): entries by subject, list, a
day they hold and revocation, a page at a time; proposals by state."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from trading.accounts.credit_code import normalise
from trading.core.errors import InvalidInput
from trading.credit.models import CreditEntry, CreditList, CreditProposal, ProposalState

PAGE_SIZE = 50


@dataclass(frozen=True)
class Filters:
    subject: str = ""
    list_kind: CreditList | None = None
    in_force_on: dt.date | None = None
    revoked: bool | None = None


def read_filters(args: Mapping[str, str]) -> Filters:
    """The list's query string (the API's and the page's): a value no filter can mean is a named 422."""
    subject = normalise(args.get("subject", ""))
    if len(subject) > 18:
        raise InvalidInput("主体代码不能超过 18 个字符", fields={"subject": "不能超过 18 个字符"})
    raw_list = args.get("list", "")
    if raw_list and raw_list not in {k.value for k in CreditList}:
        raise InvalidInput("名单不是可选的值", fields={"list": "、".join(k.value for k in CreditList)})
    raw_day = args.get("in_force_on", "").strip()
    try:
        day = dt.date.fromisoformat(raw_day) if raw_day else None
    except ValueError:
        raise InvalidInput("日期格式不正确，例如 2026-12-20", fields={"in_force_on": "日期格式不正确"}) from None
    raw_revoked = args.get("revoked", "").strip().lower()
    if raw_revoked not in ("", "true", "false"):
        raise InvalidInput("revoked 应为 true 或 false", fields={"revoked": "true 或 false"})
    return Filters(
        subject=subject,
        list_kind=CreditList(raw_list) if raw_list else None,
        in_force_on=day,
        revoked=None if raw_revoked == "" else raw_revoked == "true",
    )


def find_entries(session: Session, f: Filters, page: int) -> tuple[list[CreditEntry], int, int, int]:
    """One page of entries (newest first), the total, the page shown and the number of pages."""
    q = select(CreditEntry)
    if f.subject:
        q = q.where(CreditEntry.subject_id == f.subject)
    if f.list_kind is not None:
        q = q.where(CreditEntry.list_kind == f.list_kind)
    if f.in_force_on is not None:
        q = q.where(
            CreditEntry.starts_on <= f.in_force_on,
            or_(CreditEntry.ends_on.is_(None), CreditEntry.ends_on >= f.in_force_on),
            CreditEntry.revoked_at.is_(None),
        )
    if f.revoked is not None:
        q = q.where(CreditEntry.revoked_at.is_not(None) if f.revoked else CreditEntry.revoked_at.is_(None))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(page, pages)
    rows = session.scalars(q.order_by(CreditEntry.id.desc()).offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return list(rows), total, page, pages


def list_proposals(session: Session, state: ProposalState | None) -> list[CreditProposal]:
    q = select(CreditProposal)
    if state is not None:
        q = q.where(CreditProposal.state == state)
    return list(session.scalars(q.order_by(CreditProposal.id.desc()).limit(500)))


def proposal_state(raw: str) -> ProposalState | None:
    if raw and raw not in {s.value for s in ProposalState}:
        raise InvalidInput("状态不是可选的值", fields={"state": "、".join(s.value for s in ProposalState)})
    return ProposalState(raw) if raw else None
