"""索赔: a tenderee's claim against a bidder's guarantee, on grounds the platform's own records
prove. It sits in awards because the grounds are the opening's and the award's facts; the claim's
and the guarantee's states move only through ``trading.guarantees.lifecycle`` (filing here, the
issuer's answer in ``trading.guarantees``).

Grounds (实施条例第三十五条、第七十四条): the bidder withdrew its bid after the deadline (at the
opening its bid was 撤销: not signed in, no key released, a key that does not open it), or, once
awards exist, the winner refused the contract. A claim is filed within the guarantee's term, one at
a time, and forwarded to the issuer (which pulls it through the signed issuer API and answers).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.db import locked
from trading.accounts.models import Organisation, User
from trading.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from trading.core.services import Services
from trading.evaluation.models import EvalState, Evaluation
from trading.guarantees.lifecycle import move_guarantee
from trading.guarantees.models import ClaimGround, ClaimState, Guarantee, GuaranteeClaim, GuaranteeState
from trading.opening.models import Ceremony, CeremonyBidder, Outcome
from trading.opening.stages import ensure_current
from trading.tenders.models import Lot, Tender


def evidence_for(session: Session, g: Guarantee, ground: ClaimGround) -> dict[str, Any]:
    """The facts on record behind a ground, or a named refusal."""
    if ground is ClaimGround.WITHDREW_AFTER_DEADLINE:
        row = session.execute(
            select(Ceremony, CeremonyBidder)
            .join(CeremonyBidder, CeremonyBidder.ceremony_id == Ceremony.id)
            .where(Ceremony.lot_id == g.lot_id, CeremonyBidder.org_id == g.org_id)
        ).first()
        if row is None or row[1].outcome is not Outcome.REVOKED:
            raise InvalidInput(
                "开标记录显示该投标人没有在投标截止后撤销投标文件（其投标文件已解密或尚未处理）", code="no_grounds"
            )
        c, seat = row
        return {
            "ceremony": c.id,
            "outcome": seat.outcome.value,
            "outcome_label": seat.outcome.label,
            "reason": seat.outcome_reason,
            "record_sm3": c.final_record_sm3 or c.record_sm3,
        }
    ev = session.scalar(select(Evaluation).where(Evaluation.lot_id == g.lot_id))
    winner = session.get(CeremonyBidder, ev.winner_bidder_id) if ev and ev.winner_bidder_id else None
    if ev is None or ev.state is not EvalState.AWARDED or winner is None:
        raise InvalidInput("本标段尚未定标，不能以拒签合同索赔", code="no_grounds")
    if winner.org_id != g.org_id:
        raise InvalidInput("该投标人不是本标段的中标人，不能以拒签合同索赔", code="no_grounds")
    if ev.contract_signed_at is not None:
        raise InvalidInput("平台记录显示该中标人已签订合同", code="no_grounds")
    assert ev.awarded_at is not None
    return {
        "evaluation": ev.id,
        "awarded_at": ev.awarded_at.isoformat(),
        "days_since_notice": (clock.now() - ev.awarded_at).days,
        "contract_signed": False,
    }


def claimed_party(session: Session, g: Guarantee, tender: Tender) -> dict[str, Any]:
    """Whom a claim is against, in its audit event (after the opening: no secret): the credit
    stage proposes an entry from it (trading/credit/proposals.py reads events, not this stage)."""
    org = session.get(Organisation, g.org_id)
    return {"bidder": org.credit_code if org else None, "tender": tender.code}


def bring_opening_up_to_date(session: Session, guarantee_id: int, services: Services) -> None:
    """The opening classifies a withdrawal (撤销) when its decryption window closes, on the next
    read of its room or the next sweep; a claim filed right after the window must see that
    classification, so the claim's views bring the lot's ceremony up to now first (and commit it on
    its own, as the room's views do)."""
    g = session.get(Guarantee, guarantee_id)
    c = session.scalar(select(Ceremony).where(Ceremony.lot_id == g.lot_id)) if g is not None else None
    if c is not None:
        ensure_current(session, c, services)


def file_claim(session: Session, user: User, guarantee_id: int, ground: str, statement: str) -> GuaranteeClaim:
    g = session.scalar(locked(select(Guarantee).where(Guarantee.id == guarantee_id)))
    if g is None:
        raise NotFound("保函不存在")
    lot = session.get(Lot, g.lot_id)
    tender = session.get(Tender, lot.tender_id) if lot else None
    if tender is None or not tender.can_manage(user):
        raise Forbidden("只有本项目招标人（或其代理机构）可以索赔")
    now = clock.now()
    if not tender.deadline_passed(now):
        raise Conflict("开标前不能索赔", code="before_opening")
    try:
        why = ClaimGround(ground)
    except ValueError:
        raise InvalidInput(
            "索赔事由应为 withdrew_after_deadline 或 refused_contract", fields={"ground": "事由"}
        ) from None
    statement = (statement or "").strip()
    if not 10 <= len(statement) <= 2000:
        raise InvalidInput("请写明索赔理由（10–2000 字）", fields={"statement": "10–2000 字"})
    if g.state is not GuaranteeState.VALID:
        raise Conflict(f"保函{g.state.label}，不能索赔", code="wrong_state")
    if clock.local(now).date() > g.ends_on:
        raise Conflict(f"保函已于 {g.ends_on} 到期，索赔超过期限", code="out_of_time")
    claim = GuaranteeClaim(
        guarantee_id=g.id,
        user_id=user.id,
        ground=why,
        evidence=evidence_for(session, g, why),
        statement=statement,
        amount=g.amount,
        state=ClaimState.FILED,
        filed_at=now,
    )
    session.add(claim)
    move_guarantee(
        session,
        user,
        g,
        GuaranteeState.CLAIMED,
        detail={"guarantee": g.id, "ground": why.value, "amount": str(g.amount), **claimed_party(session, g, tender)},
        subject=claim,
    )
    return claim
