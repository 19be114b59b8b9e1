"""The tender's and the lot's lives: the one place that writes ``Tender.status`` and ``Lot.status``.

``move_tender`` checks the move against ``TENDER_MOVES`` and writes the audit event; the
operations (``drafting``, ``publication``, ``amendments``, ``termination``) keep their own, more
precise refusals and do the rest: announcements, and the hooks through which the opening makes
or cancels its ceremonies (``trading.tenders.hooks``).

``move_lot`` checks the move against ``LOT_MOVES``, writes the new state and, in the same
transaction, the audit event, the notices and the announcement the law requires:

- 流标 (failed): the 流标公告 is published at once, and every registered bidder (报名) and the
  tenderee with its agency are told why (招标投标法第二十八条、实施条例第四十四条 at the
  deadline; 第四十二条、实施条例第五十一条 when the committee rejects every bid). The notice
  and the announcement say why the lot failed, never who bid.
- 定标 (awarded): the winner gets its 中标通知, every other registered bidder its 未中标 notice,
  the tenderee and its agency a notice of the result (招标投标法第四十五条: the result is told
  to every bidder that did not win at the same time as the award notice is issued).
- 终止 (terminated): registered bidders and the tenderee with its agency are told the lot ends.
- 开标 (opening) and 评标 (evaluating): the audit event only; the ceremony room and the opening
  record tell everyone.
- 公示 (publicity): every registered bidder and the tenderee with its agency are told the
  candidates are publicised and that objections go in within the period (实施条例第五十四条).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from archive import clock
from archive.audit import Actor, record_event
from trading.accounts.models import Organisation
from trading.core.errors import Conflict
from trading.tenders import notifications
from trading.tenders.models import AnnouncementKind, Lot, LotState, Tender, TenderState
from trading.tenders.publishing import publish_now

# From what the operations do: submit, return (退回), publish, the deadline, suspend/resume (暂停),
# terminate (终止) from any state before the deadline.
TENDER_MOVES: dict[TenderState, frozenset[TenderState]] = {
    TenderState.DRAFT: frozenset({TenderState.SUBMITTED, TenderState.TERMINATED}),
    TenderState.SUBMITTED: frozenset({TenderState.DRAFT, TenderState.PUBLISHED, TenderState.TERMINATED}),
    TenderState.PUBLISHED: frozenset({TenderState.BIDDING_CLOSED, TenderState.SUSPENDED, TenderState.TERMINATED}),
    TenderState.SUSPENDED: frozenset({TenderState.PUBLISHED, TenderState.TERMINATED}),
    TenderState.BIDDING_CLOSED: frozenset(),
    TenderState.TERMINATED: frozenset(),
}

# A lot bids until its opening begins at the deadline (招标投标法第三十四条), or fails there (too
# few bids, 第二十八条), or ends with the tender's termination before the deadline; the opening
# closes into evaluation; the evaluation fails it (every bid rejected, 第四十二条) or publicises
# its candidates (实施条例第五十四条); the award ends it (第四十五条). The end states are final.
LOT_MOVES: dict[LotState, frozenset[LotState]] = {
    LotState.BIDDING: frozenset({LotState.OPENING, LotState.FAILED, LotState.TERMINATED}),
    LotState.OPENING: frozenset({LotState.EVALUATING, LotState.FAILED}),
    LotState.EVALUATING: frozenset({LotState.FAILED, LotState.PUBLICITY}),
    LotState.PUBLICITY: frozenset({LotState.AWARDED}),
    LotState.FAILED: frozenset(),
    LotState.AWARDED: frozenset(),
    LotState.TERMINATED: frozenset(),
}

ACTIONS = {
    LotState.OPENING: "lot.open",
    LotState.FAILED: "lot.fail",
    LotState.EVALUATING: "lot.evaluate",
    LotState.PUBLICITY: "lot.publicise",
    LotState.AWARDED: "lot.award",
    LotState.TERMINATED: "lot.terminate",
}


def may_move(frm: LotState, to: LotState) -> bool:
    return to in LOT_MOVES[frm]


def move_tender(
    session: Session,
    actor: Actor,
    tender: Tender,
    to: TenderState,
    *,
    action: str,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Move ``tender`` to ``to`` (Conflict ``tender_transition`` if the table forbids it), with its
    audit event ``action`` in the same transaction."""
    frm = tender.status
    if to not in TENDER_MOVES[frm]:
        raise Conflict(f"项目当前状态为“{frm.label}”，不能改为“{to.label}”", code="tender_transition")
    tender.status = to
    tender.updated_at = clock.now()
    session.flush()
    record_event(session, actor, action, tender, {"from": frm.value, "to": to.value, **(detail or {})})


def move_lot(
    session: Session,
    actor: Actor,
    lot: Lot,
    to: LotState,
    *,
    reason: str | None,
    now: dt.datetime,
    winner_org_id: int | None = None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Move ``lot`` to ``to`` (Conflict ``lot_transition`` if the table forbids it). ``reason`` is
    public text (it lands in the notices and the 流标公告); ``winner_org_id`` is required for an award."""
    frm = lot.status
    if not may_move(frm, to):
        raise Conflict(f"标段{frm.label}，不能改为{to.label}", code="lot_transition")
    if to is LotState.AWARDED and winner_org_id is None:
        raise ValueError("an award names its winner")
    lot.status = to
    session.flush()
    record_event(
        session, actor, ACTIONS[to], lot, {"from": frm.value, "to": to.value, "reason": reason, **(detail or {})}
    )
    tender = lot.tender
    where = f"《{tender.title}》（{tender.code}）第{lot.number}标段“{lot.name}”"
    bidders = notifications.interested_orgs(session, tender)
    managers = [o for o in (tender.tenderee_org_id, tender.agency_org_id) if o is not None]
    if to is LotState.FAILED:
        _failure_announcement(session, tender, lot, reason or "")
        message = f"{where}流标：{reason}。流标公告已发布。"
        notifications.notify_orgs(session, tender, bidders, message)
        notifications.notify_orgs(session, tender, managers, message + "请依法重新招标。")
    elif to is LotState.AWARDED:
        assert winner_org_id is not None
        winner = session.get(Organisation, winner_org_id)
        name = winner.name if winner else str(winner_org_id)
        notifications.notify_orgs(
            session, tender, [winner_org_id], f"中标通知：{where}，贵单位为中标人。请查收中标通知书。"
        )
        others = [o for o in bidders if o != winner_org_id]
        notifications.notify_orgs(
            session, tender, others, f"未中标通知：{where}已确定中标人为{name}，贵单位未中标。感谢参与。"
        )
        notifications.notify_orgs(session, tender, managers, f"{where}已定标，中标人：{name}。")
    elif to is LotState.PUBLICITY:
        message = (
            f"{where}中标候选人公示已发布{('：' + reason) if reason else ''}。对评标结果有异议的，请在公示期内提出。"
        )
        notifications.notify_orgs(session, tender, bidders, message)
        notifications.notify_orgs(session, tender, managers, message)
    elif to is LotState.TERMINATED:
        message = f"{where}已终止：{reason}。"
        notifications.notify_orgs(session, tender, bidders, message)
        notifications.notify_orgs(session, tender, managers, message)


def failure_title(tender: Tender, lot: Lot) -> str:
    """The 流标公告's title: the timeline finds a lot's failure by it (an announcement names no lot)."""
    return f"{tender.title} 第{lot.number}标段 流标公告"


def _failure_announcement(session: Session, tender: Tender, lot: Lot, reason: str) -> None:
    publish_now(
        session,
        tender,
        AnnouncementKind.FAILURE,
        failure_title(tender, lot),
        f"{tender.title}（项目编号 {tender.code}）第{lot.number}标段“{lot.name}”{reason}，本标段流标。"
        "招标人将依法重新招标。",
        None,
    )
