"""A stage change that fails for a reason of ours: undone in its savepoint, recorded (audit event,
log, a note for staff), and counted, so that it is retried after a pause and given up at the cap."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive.audit import Actor, record_event, write_pending
from trading.core.errors import Conflict
from trading.core.scheduler import RETRY_CAP, Failures, error_summary, failures
from trading.opening.ceremonies import add_event, lot_of
from trading.opening.models import (
    Audience,
    Ceremony,
)

log = logging.getLogger("ggzy.opening")


class AdvanceFailed(Conflict):
    """A stage change that failed for a reason of ours (its record could not be built, the store
    did not answer): the ceremony stays where it was, and staff are told by name. The message is
    for staff (which lot, which audit event); the error class is a detail for technical support,
    and its text stays in the audit event and the log."""

    code = "advance_failed"

    def __init__(self, info: dict[str, Any]) -> None:
        lot = f"第 {info['lot']} 标段" if info.get("lot") else ""
        seq = f"，已记录为审计事件 #{info['seq']}" if info.get("seq") else ""
        super().__init__(f"开标室{lot}未能进入下一阶段（系统内部错误{seq}）；请联系平台技术支持处理后再试")
        self.info = info

    @property
    def error(self) -> str:
        return str(self.info.get("error", ""))

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body["error"]["detail"] = {"error": self.error, "lot": self.info.get("lot"), "seq": self.info.get("seq")}
        return body


def advance_failures(session: Session, c: Ceremony) -> Failures:
    """The failed attempts to move the ceremony on from its current stage (a stage only moves
    forward, so they are the failure events since it began that name it)."""
    return failures(session, "ceremony.advance_failed", c.audit_ref, c.stage_started_at, stage=c.stage.value)


def _record_failure(
    session: Session, c: Ceremony, actor: Actor, exc: BaseException, group: list[int] | None = None
) -> dict[str, Any]:
    """After the failed step was undone: an audit event (the count of failures is read back from
    them), a line in the log, and a note in the room for staff. Returns what staff are told."""
    info = exc.info if isinstance(exc, AdvanceFailed) else error_summary(exc)
    count = advance_failures(session, c).count + 1
    cause = exc.__cause__ if isinstance(exc, AdvanceFailed) and exc.__cause__ is not None else exc
    lot = lot_of(session, c).number
    log.error(
        "ceremony %s (lot %s) could not leave %s (failure %s of %s)",
        c.id,
        lot,
        c.stage.value,
        count,
        RETRY_CAP,
        exc_info=cause,
    )
    payload: dict[str, Any] = {
        "stage": c.stage.value,
        "error": info["error"],
        "message": info["message"],
        "lot": lot,
        "failures": count,
        "gave_up": count >= RETRY_CAP,
    }
    if group:
        payload["joint_lots"] = group  # 合并开标: none of these lots moved
    seq = record_event(session, actor, "ceremony.advance_failed", c, payload)
    add_event(session, c, "advance_failed", payload | {"seq": seq}, Audience.STAFF)
    return payload | {"seq": seq}


def group_step(
    session: Session, actor: Actor, moves: list[tuple[Ceremony, Callable[[], None]]]
) -> dict[str, Any] | None:
    """Stage changes that stand or fall together, in one savepoint: all done (None), or all undone
    and the failing lot's failure recorded (what staff are told). One lot's step is the group of
    one; the lots of a 合并开标 are one group, so their prices are published together or not at all."""
    write_pending(session)  # appends made before the savepoint must not be dropped with it
    failed: list[Ceremony] = []
    try:
        with session.begin_nested():
            for c, move in moves:
                failed[:] = [c]
                move()
        return None
    except OperationalError:
        raise  # contention: the request answers busy_retry, the sweep tries again
    except Exception as exc:  # the rules were checked before: this is ours, and must stop no one else
        group = [lot_of(session, c).number for c, _ in moves] if len(moves) > 1 else None
        return _record_failure(session, failed[0] if failed else moves[0][0], actor, exc, group)


def step(session: Session, c: Ceremony, actor: Actor, move: Callable[[], None]) -> bool:
    """One stage change in a savepoint of its own: done, or undone alone and recorded (False)."""
    return group_step(session, actor, [(c, move)]) is None
