"""The bond a bid relies on (投标保证金): the column the opening's price reading shows, a lot's
guarantees once its bids are opened, and the release of a guarantee the lot no longer needs
(实施条例第五十七条: within 5 days of the contract, or of the lot's failure or termination)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, Actor
from trading.core.formats import money
from trading.guarantees.issuers import organisation
from trading.guarantees.lifecycle import move_guarantee
from trading.guarantees.models import Guarantee, GuaranteeOrder, GuaranteeState
from trading.tenders.models import Lot


def bond_status(session: Session, lot_id: int, org_id: int) -> dict[str, Any]:
    """The price reading's bond column (保证金): satisfied by guarantee N from issuer X, or missing."""
    g = session.scalar(
        select(Guarantee)
        .where(Guarantee.lot_id == lot_id, Guarantee.org_id == org_id)
        .order_by(Guarantee.id.desc())
        .limit(1)
    )
    if g is None:
        order = session.scalar(
            select(GuaranteeOrder)
            .where(GuaranteeOrder.lot_id == lot_id, GuaranteeOrder.org_id == org_id)
            .order_by(GuaranteeOrder.id.desc())
            .limit(1)
        )
        if order is not None and order.last_refusal:
            return {"status": "invalid", "label": f"保函无效：{order.last_refusal['message']}"}
        return {"status": "missing", "label": "未提交电子保函"}
    issuer = organisation(session, g.issuer_org_id).name
    if g.state is GuaranteeState.SEALED:
        return {"status": "sealed", "label": f"电子保函 {g.number}（{issuer}，待出具机构揭示）", "number": g.number}
    if g.state is GuaranteeState.INVALID:
        reason = (g.invalid_reason or {}).get("message", "")
        return {"status": "invalid", "label": f"保函无效：{reason}", "number": g.number}
    return {
        "status": "satisfied",
        "label": f"电子保函 {g.number}（{issuer}，{money(g.amount)} 元，至 {g.ends_on}）",
        "number": g.number,
        "issuer": issuer,
        "amount": str(g.amount),
        "state": g.state.value,
    }


def lot_guarantees(session: Session, lot: Lot) -> list[Guarantee]:
    return list(session.scalars(select(Guarantee).where(Guarantee.lot_id == lot.id).order_by(Guarantee.id)))


def release(session: Session, g: Guarantee, reason: str, actor: Actor = SYSTEM) -> None:
    """释放: the bond is no longer needed, for ``reason`` (public text, the issuer reads it)."""
    g.released_at, g.release_reason = clock.now(), reason
    move_guarantee(session, actor, g, GuaranteeState.RELEASED, detail={"reason": reason})
