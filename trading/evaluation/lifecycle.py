"""The evaluation's life: the one place that writes ``Evaluation.state``.

``move_evaluation`` checks the move against ``EVALUATION_MOVES``, writes the new state and, in the
same transaction, the audit event ``evaluation.stage``. The operations (``committee``,
``compliance``, ``signoff`` here, and the later stage's publicity and award after the report) keep
their own, more precise refusals (``require_state``, who may act, what must be done first) and call
it last.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from archive.audit import Actor, record_event
from trading.core.errors import Conflict
from trading.evaluation.models import EvalState, Evaluation

# From what the operations do: the committee signs in and starts the review; the compliance review
# closes into scoring, or into a report with no candidates when every bid is rejected (Reg 51);
# the report is generated, then signed by every member; staff send a report not yet publicised
# back (评标回退) to scoring or to compliance; staff publicise the candidates; the tenderee awards.
EVALUATION_MOVES: dict[EvalState, frozenset[EvalState]] = {
    EvalState.SIGN_IN: frozenset({EvalState.COMPLIANCE}),
    EvalState.COMPLIANCE: frozenset({EvalState.SCORING, EvalState.REPORTED}),
    EvalState.SCORING: frozenset({EvalState.SIGNING}),
    EvalState.SIGNING: frozenset({EvalState.REPORTED, EvalState.SCORING, EvalState.COMPLIANCE}),
    EvalState.REPORTED: frozenset({EvalState.PUBLICITY, EvalState.SCORING, EvalState.COMPLIANCE}),
    EvalState.PUBLICITY: frozenset({EvalState.AWARDED}),
    EvalState.AWARDED: frozenset(),
}


def require_state(ev: Evaluation, *states: EvalState) -> None:
    """Conflict ``wrong_state`` unless the evaluation is in one of ``states``."""
    if ev.state not in states:
        raise Conflict(f"评标当前处于“{ev.state.label}”阶段，不能进行此操作", code="wrong_state")


def move_evaluation(session: Session, actor: Actor, ev: Evaluation, to: EvalState, **detail: Any) -> None:
    """Move ``ev`` to ``to`` (Conflict ``evaluation_transition`` if the table forbids it), with its
    audit event in the same transaction; ``detail`` goes into the event."""
    frm = ev.state
    if to not in EVALUATION_MOVES[frm]:
        raise Conflict(f"评标当前处于“{frm.label}”阶段，不能改为“{to.label}”", code="evaluation_transition")
    ev.state = to
    session.flush()
    record_event(session, actor, "evaluation.stage", ev, {"from": frm.value, "to": to.value, **detail})
