"""The supervision clocks (黄灯预警、红灯追责), computed from the audit trail.

``sweep`` is the scheduler's idempotent job. It reads the audit events after the cursor
(``SupervisionCursor``), only those of the actions the rules name, in chunks: a start event opens
a clock under the rule version in force at the event's time (one clock per rule and subject at a
time: the limit runs from the first start), a stop event stops the open clocks of its subject,
``lot.suspend``/``lot.resume`` (``tender.suspend``/``tender.resume``) pause and resume the
clocks of the lot (tender), never a complaint's. Then it recolours the running clocks whose
``next_check_at`` has come (indexed: a clock that cannot change colour is never read). A change
of colour is the audit event ``supervision_clock.yellow`` / ``supervision_clock.red`` about the clock and a
notice to whom the rule names; a clock stopped after its due instant is red for good (``worst``)
and that is the audit event ``supervision_clock.late``.

Each chunk of events moves in a savepoint; should one fail, its events are taken one by one and
the event that fails is recorded (``supervision_clock.event_failed``) and passed over, so one bad event
never stops the others. Each recolouring is an item of ``attempt`` (its failure is
``supervision_clock.recolour_failed``, retried with a pause up to a cap). The cursor moves in the
transaction of the chunk it passes: twice the same sweep changes nothing.

The parts: ``clock_log`` follows the log (starts, stops, pauses), ``clock_subjects`` finds what each
event is about, ``clock_colours`` recolours and warns; the rule versions (their seed and changes)
are ``trading.supervision.rulebook``'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from trading.procedures.operations import overrides as calendar_overrides
from trading.supervision.clock_colours import SweepContext, recolour_due
from trading.supervision.clock_log import follow_log
from trading.supervision.models import (
    SupervisionClock,
)
from trading.supervision.rulebook import load_rules


# ---------------------------------------------------------------- the clocks others read
def clocks_of_lots(session: Session, lot_ids: Iterable[int]) -> list[SupervisionClock]:
    """The clocks about these lots (a complaint's too, when it names the lot), oldest first."""
    ids = sorted(set(lot_ids))
    if not ids:
        return []
    q = select(SupervisionClock).where(SupervisionClock.lot_id.in_(ids)).order_by(SupervisionClock.id)
    return list(session.scalars(q))


def clock_refs_of_lot(session: Session, lot_id: int) -> list[tuple[str, str]]:
    """The audit refs of the lot's clocks and of the rule versions they ran by: the archive package
    takes their events (the seed or change of the rule, each yellow, red and late)."""
    clocks = clocks_of_lots(session, [lot_id])
    rules = {("supervision_rule", str(c.rule_id)): None for c in clocks}
    return [*rules, *(c.audit_ref for c in clocks)]


# ---------------------------------------------------------------- the sweep
def sweep(session: Session, now: dt.datetime) -> int:
    """Start, stop, pause and resume clocks from the new audit events, then recolour the running
    clocks that are due; how many clocks changed. Idempotent; commits as it goes (per chunk of
    events and per recoloured clock)."""
    ctx = SweepContext(session, load_rules(session), calendar_overrides(session), now)
    changed = follow_log(ctx)
    return changed + recolour_due(ctx)
