"""The issuer's side of a claim (索赔) the tenderee filed (trading.awards.claims): the claims it
has to answer, and its answer, paid (with the amount and the payment's reference) or refused."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.db import locked
from trading.accounts.models import User
from trading.core.errors import Conflict, InvalidInput, NotFound
from trading.guarantees.lifecycle import move_claim
from trading.guarantees.models import ClaimState, Guarantee, GuaranteeClaim


def issuer_claims(session: Session, issuer_user: User, state: ClaimState = ClaimState.FILED) -> list[GuaranteeClaim]:
    q = (
        select(GuaranteeClaim)
        .join(Guarantee, Guarantee.id == GuaranteeClaim.guarantee_id)
        .where(Guarantee.issuer_org_id == issuer_user.organisation_id, GuaranteeClaim.state == state)
    )
    return list(session.scalars(q.order_by(GuaranteeClaim.id)))


def answer_claim(
    session: Session,
    issuer_user: User,
    claim_id: int,
    *,
    pay: bool,
    answer: str,
    paid_amount: Decimal | None,
    payment_reference: str | None,
) -> GuaranteeClaim:
    """The issuer's answer to a claim it received: paid (with the amount and the payment's
    reference) or refused with reasons."""
    claim = session.scalar(locked(select(GuaranteeClaim).where(GuaranteeClaim.id == claim_id)))
    g = session.get(Guarantee, claim.guarantee_id) if claim else None
    if claim is None or g is None or g.issuer_org_id != issuer_user.organisation_id:
        raise NotFound("索赔不存在", code="no_such_claim")
    if claim.state is not ClaimState.FILED:
        raise Conflict(f"索赔{claim.state.label}，不能再答复", code="wrong_state")
    answer = (answer or "").strip()
    if not 2 <= len(answer) <= 2000:
        raise InvalidInput("请填写答复（2–2000 字）", fields={"answer": "2–2000 字"})
    if pay:
        if paid_amount is None or not 0 < paid_amount <= g.amount or not payment_reference:
            raise InvalidInput(
                f"赔付金额应在 0–{g.amount} 元之间，并填写付款凭证号",
                fields={"paid_amount": "金额", "payment_reference": "凭证号"},
            )
        claim.paid_amount, claim.payment_reference = paid_amount, payment_reference[:80]
    claim.answer, claim.answered_at = answer, clock.now()
    move_claim(
        session,
        issuer_user,
        claim,
        g,
        ClaimState.PAID if pay else ClaimState.REFUSED,
        detail={
            "paid_amount": str(paid_amount) if pay else None,
            "payment_reference": payment_reference if pay else None,
        },
    )
    return claim
