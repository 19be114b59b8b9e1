"""A national record's push life: the one place that writes ``ExchangeRecord.state``.

``move_record`` checks the move against ``RECORD_MOVES``, writes the new state and, in the same
transaction, its audit event (one action per target state). A failing record that fails again is
no move: its state stays, only its next attempt moves, and no event is written (a receiver down
for a day would otherwise fill the log with one event per retry)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from archive.audit import Actor, record_event
from trading.core.errors import Conflict
from trading.exchange.models import FAILING, PUSHED, QUEUED, REFUSED, ExchangeRecord

# queued or failing: pushed (acknowledged), refused (a named 4xx), failing (try again later);
# refused is final until staff queue it again; pushed is final.
RECORD_MOVES: dict[str, frozenset[str]] = {
    QUEUED: frozenset({PUSHED, FAILING, REFUSED}),
    FAILING: frozenset({PUSHED, FAILING, REFUSED}),
    REFUSED: frozenset({QUEUED}),
    PUSHED: frozenset(),
}
#: the audit action of each target state
ACTIONS = {
    PUSHED: "exchange.pushed",
    FAILING: "exchange.push_failed",
    REFUSED: "exchange.refused",
    QUEUED: "exchange.requeue",
}


class RecordTransition(Conflict):
    code = "exchange_transition"


def move_record(session: Session, actor: Actor, rec: ExchangeRecord, to: str, **detail: Any) -> bool:
    """Move ``rec`` to ``to`` (``RecordTransition`` if ``RECORD_MOVES`` forbids it) with its audit
    event in the same transaction; ``detail`` goes into the event. False (and no event) when the
    record already was in ``to`` (a failing record failing again)."""
    frm = rec.state
    if to not in RECORD_MOVES.get(frm, frozenset()):
        raise RecordTransition(f"推送记录处于“{frm}”状态，不能改为“{to}”", code="exchange_transition")
    if frm == to:
        return False
    rec.state = to
    session.flush()
    about = {"table": rec.table_name, "data_key": rec.data_key, "data_timestamp": rec.data_timestamp}
    record_event(session, actor, ACTIONS[to], rec, about | {"from": frm} | detail)
    return True
