"""The lives of an order, a guarantee and a claim: the one place that writes
``GuaranteeOrder.state``, ``Guarantee.state`` and ``GuaranteeClaim.state``.

Each ``move_*`` checks the move against its table (a named ``Conflict`` if the table forbids it),
writes the new state and, in the same transaction, the audit event. The operations keep their
own, more precise refusals (``wrong_state``, saying what the user may do) and set the other
columns of their step (a reason, the revealed terms, the release's time); they never write a state.

- An order (保函申请) is decided once: the issuer rejects it or issues a guarantee for it, or the
  bidder cancels it (or the platform does, when its lot has ended) while it is undecided.
- A guarantee (电子保函) is sealed (保函加密) until the issuer reveals it at the opening, which
  makes it valid or invalid; a valid one may be claimed against (索赔, 实施条例第三十五条、第七十四条),
  which the issuer pays or refuses (it is then valid again); any that still stands is released
  (释放, 实施条例第五十七条) once the lot has ended.
- A claim is filed, then paid or refused by the issuer; its answer moves the guarantee with it.

Who means to bid is secret until the opening (招标投标法第二十二条): the bidder's own steps on an
order are recorded sealed (``Sealing``: trading.tenders.sealed), naming neither the tender, the
order nor the bidder.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from archive.audit import Actor, record_event
from trading.core.errors import Conflict
from trading.guarantees.models import ClaimState, Guarantee, GuaranteeClaim, GuaranteeOrder, GuaranteeState, OrderState
from trading.tenders.models import Tender
from trading.tenders.sealed import record_sealed

_O, _G, _C = OrderState, GuaranteeState, ClaimState

ORDER_MOVES: dict[OrderState, frozenset[OrderState]] = {
    _O.APPLIED: frozenset({_O.REJECTED, _O.ISSUED, _O.CANCELLED}),
    _O.REJECTED: frozenset(),
    _O.ISSUED: frozenset(),
    _O.CANCELLED: frozenset(),
}

ORDER_ACTIONS = {_O.REJECTED: "guarantee.reject", _O.ISSUED: "guarantee.issue", _O.CANCELLED: "guarantee.cancel"}

GUARANTEE_MOVES: dict[GuaranteeState, frozenset[GuaranteeState]] = {
    _G.SEALED: frozenset({_G.VALID, _G.INVALID, _G.RELEASED}),
    _G.VALID: frozenset({_G.CLAIMED, _G.RELEASED}),
    _G.INVALID: frozenset({_G.RELEASED}),
    _G.CLAIMED: frozenset({_G.PAID, _G.VALID}),  # by the claim's answer (move_claim) only
    _G.RELEASED: frozenset(),
    _G.PAID: frozenset(),
}

#: the audit action of each move ``move_guarantee`` makes (the claim's answer is ``move_claim``'s)
GUARANTEE_ACTIONS: dict[tuple[GuaranteeState, GuaranteeState], str] = {
    (_G.SEALED, _G.VALID): "guarantee.reveal",
    (_G.SEALED, _G.INVALID): "guarantee.invalid",
    (_G.VALID, _G.CLAIMED): "guarantee.claim",
    **{(frm, _G.RELEASED): "guarantee.release" for frm in (_G.SEALED, _G.VALID, _G.INVALID)},
}

CLAIM_MOVES: dict[ClaimState, frozenset[ClaimState]] = {
    _C.FILED: frozenset({_C.PAID, _C.REFUSED}),
    _C.PAID: frozenset(),
    _C.REFUSED: frozenset(),
}

#: what the claim's answer makes of its guarantee: paid out, or standing again
CLAIM_ANSWERS = {_C.PAID: _G.PAID, _C.REFUSED: _G.VALID}

#: a guarantee the lot no longer needs once it has ended (its claim, if any, is answered first)
RELEASABLE = tuple(frm for frm, to in GUARANTEE_ACTIONS if to is _G.RELEASED)


class OrderMoveRefused(Conflict):
    code = "order_transition"


class GuaranteeMoveRefused(Conflict):
    code = "guarantee_transition"


class ClaimMoveRefused(Conflict):
    code = "claim_transition"


@dataclass(frozen=True)
class Sealing:
    """The bidder's own step, recorded as a sealed event (``record_sealed``) with these facts."""

    kek: bytes
    tender: Tender
    credit_code: str
    facts: Mapping[str, Any] = field(default_factory=dict)

    def record(self, session: Session, action: str) -> None:
        record_sealed(session, self.kek, self.tender, self.credit_code, action, dict(self.facts))


def move_order(
    session: Session,
    actor: Actor,
    order: GuaranteeOrder,
    to: OrderState,
    *,
    now: dt.datetime,
    detail: Mapping[str, Any] | None = None,
    subject: Any = None,
    sealing: Sealing | None = None,
) -> None:
    """Decide ``order`` (``OrderMoveRefused`` if the table forbids it) at ``now``, with its audit
    event: about ``subject`` (the guarantee issued) or the order, or sealed for the bidder's own step."""
    frm = order.state
    if to not in ORDER_MOVES[frm]:
        raise OrderMoveRefused(f"保函申请{frm.label}，不能改为“{to.label}”")
    order.state, order.decided_at = to, now
    session.flush()
    if sealing is not None:
        sealing.record(session, ORDER_ACTIONS[to])
    else:
        record_event(session, actor, ORDER_ACTIONS[to], order if subject is None else subject, dict(detail or {}))


def _check_guarantee(guarantee: Guarantee, to: GuaranteeState) -> GuaranteeState:
    frm = guarantee.state
    if to not in GUARANTEE_MOVES[frm]:
        raise GuaranteeMoveRefused(f"保函{frm.label}，不能改为“{to.label}”")
    return frm


def move_guarantee(
    session: Session,
    actor: Actor,
    guarantee: Guarantee,
    to: GuaranteeState,
    *,
    detail: Mapping[str, Any] | None = None,
    subject: Any = None,
) -> None:
    """Move ``guarantee`` to ``to`` (``GuaranteeMoveRefused`` if the table forbids it), with its audit
    event about ``subject`` (the claim filed against it) or the guarantee."""
    frm = _check_guarantee(guarantee, to)
    action = GUARANTEE_ACTIONS.get((frm, to))
    if action is None:  # out of CLAIMED: the claim and its guarantee move together
        raise GuaranteeMoveRefused(f"保函{frm.label}，由索赔的答复改变其状态")
    guarantee.state = to
    session.flush()
    record_event(session, actor, action, guarantee if subject is None else subject, dict(detail or {}))


def move_claim(
    session: Session,
    actor: Actor,
    claim: GuaranteeClaim,
    guarantee: Guarantee,
    to: ClaimState,
    *,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """The issuer's answer: ``claim`` is paid or refused (``ClaimMoveRefused`` if the table forbids
    it) and ``guarantee`` paid out or standing again, with one audit event about the claim."""
    frm = claim.state
    if to not in CLAIM_MOVES[frm]:
        raise ClaimMoveRefused(f"索赔{frm.label}，不能改为“{to.label}”")
    g_to = CLAIM_ANSWERS[to]
    _check_guarantee(guarantee, g_to)
    claim.state, guarantee.state = to, g_to
    session.flush()
    record_event(session, actor, f"guarantee.claim_{to.value}", claim, dict(detail or {}))
