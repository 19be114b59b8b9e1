"""Release of bid guarantees once a lot's outcome is known (Reg 57: a tenderer's guarantee is
returned within 5 days of the contract's signature, or of the failure or termination).

It is the awards stage's sweep: it reads the opening's bidders and the evaluation's winner, so it
sits after both, and moves each guarantee through the guarantees stage's own functions.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.audit import SYSTEM
from archive.db import locked
from trading.core.scheduler import each_attempted
from trading.evaluation.models import Evaluation
from trading.guarantees.bonds import release
from trading.guarantees.lifecycle import RELEASABLE, move_order
from trading.guarantees.models import Guarantee, GuaranteeOrder, OrderState
from trading.opening.models import CeremonyBidder
from trading.tenders.models import Lot, LotState

RELEASE_REASONS = {LotState.FAILED: "标段流标，保函释放", LotState.TERMINATED: "招标终止，保函释放"}


def release_due(session: Session, now: dt.datetime) -> int:
    """The scheduler's sweep: guarantees of lots that failed or were terminated are released, and
    undecided applications for them cancelled; after an award, the losers' guarantees, and the
    winner's once its contract is recorded (Reg 57: within 5 days; the sweep runs every 10
    minutes). Each guarantee and each application moves in a transaction of its own
    (``each_apart``), so one that cannot (an unreadable row) holds up no other; its failure is
    the audit event ``guarantee.release_failed`` / ``guarantee.cancel_failed``, retried with a
    pause up to a cap."""
    releasable = Guarantee.state.in_([s.value for s in RELEASABLE])
    ended = session.execute(
        select(Guarantee.id, Lot.status)
        .join(Lot, Lot.id == Guarantee.lot_id)
        .where(releasable, Lot.status.in_([s.value for s in RELEASE_REASONS]))
        .order_by(Guarantee.id)
    ).all()
    due = [(gid, RELEASE_REASONS[LotState(status)]) for gid, status in ended]
    awarded = session.execute(
        select(Guarantee.id, Guarantee.org_id, CeremonyBidder.org_id, Evaluation.contract_signed_at)
        .join(Lot, Lot.id == Guarantee.lot_id)
        .join(Evaluation, Evaluation.lot_id == Lot.id)
        .join(CeremonyBidder, CeremonyBidder.id == Evaluation.winner_bidder_id)
        .where(Lot.status == LotState.AWARDED, releasable)
        .order_by(Guarantee.id)
    ).all()
    for gid, org, winner, contract_signed_at in awarded:
        if org != winner:
            due.append((gid, "已定标，未中标人的保函释放"))
        elif contract_signed_at is not None:
            due.append((gid, "中标人已签订合同，保函释放"))

    def release_one(guarantee_id: int, reason: str) -> bool:
        # one an issuer's request holds is skipped: the next sweep releases it
        g = session.scalar(locked(select(Guarantee).where(Guarantee.id == guarantee_id), skip_locked=True))
        if g is None or g.state not in RELEASABLE:
            return False
        release(session, g, reason)
        return True

    done = each_attempted(
        session,
        due,
        now,
        "release_guarantees",
        "guarantee.release_failed",
        lambda item: ("guarantee", str(item[0])),
        lambda item: release_one(*item),
    )
    pending = session.scalars(
        select(GuaranteeOrder.id)
        .join(Lot, Lot.id == GuaranteeOrder.lot_id)
        .where(GuaranteeOrder.state == OrderState.APPLIED, Lot.status.in_([s.value for s in RELEASE_REASONS]))
        .order_by(GuaranteeOrder.id)
    ).all()

    def cancel_one(order_id: int) -> bool:
        order = session.scalar(locked(select(GuaranteeOrder).where(GuaranteeOrder.id == order_id), skip_locked=True))
        if order is None or order.state is not OrderState.APPLIED:
            return False
        move_order(session, SYSTEM, order, OrderState.CANCELLED, now=now, detail={"reason": "标段已结束"})
        return True

    return done + each_attempted(
        session,
        pending,
        now,
        "cancel_guarantee_orders",
        "guarantee.cancel_failed",
        lambda oid: ("guarantee_order", str(oid)),
        cancel_one,
    )
