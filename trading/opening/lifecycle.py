"""The ceremony's life: the one place that writes ``Ceremony.stage``.

``move_ceremony`` checks the move against ``STAGE_MOVES``, writes the new stage and its window,
and in the same transaction the audit event (``ceremony.<stage>``), the live room's event and, at
the decisive moments, the request for a signed checkpoint (过程全留痕: the moment stays provable
years later). ``trading.opening.stages`` decides when a ceremony moves and does the work of each
stage (the bidder list, the classification, the record); the lot's own status moves through
``trading.tenders.lifecycle.move_lot``.

The order is the one the law gives the opening (招标投标法第三十四至三十六条，实施条例第四十四条):
at the deadline the bidders sign in (签到), their list is published, the bids are decrypted (解密),
the prices read (唱标) and the record confirmed (开标记录确认). A lot with too few bids fails at the
deadline without opening (流标, 实施条例第四十四条); a tender terminated before it cancels its rooms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy.orm import Session

from archive.audit import Actor, record_event
from archive.transparency import request_checkpoint
from trading.core.errors import Conflict
from trading.opening.ceremonies import add_event
from trading.opening.models import FINAL_STAGES, Ceremony, Stage

#: The stages that follow one another while the room runs, each window closing into the next.
NEXT: dict[Stage, Stage] = {
    Stage.SIGN_IN: Stage.BIDDERS,
    Stage.BIDDERS: Stage.DECRYPTING,
    Stage.DECRYPTING: Stage.READING,
    Stage.READING: Stage.CONFIRMING,
    Stage.CONFIRMING: Stage.CLOSED,
}

#: What ending each window does, as staff are told before they end it early (进入下一阶段): the
#: confirmation names what will happen, and none of it can be undone.
ADVANCE_EFFECTS: dict[Stage, str] = {
    Stage.SIGN_IN: "签到结束，公布投标人名单；未签到的投标人不能再签到，其投标文件将不能解密。",
    Stage.BIDDERS: "进入解密阶段，投标人开始提交密钥解密投标文件。",
    Stage.DECRYPTING: "解密结束：未解密的投标文件按撤销或撤回处理，全部报价同时公布（唱标）。",
    Stage.READING: "唱标结束：生成开标记录并由平台签名，请投标人确认。",
    Stage.CONFIRMING: "开标结束：未确认的投标人视为确认，生成最终开标记录，开标密钥销毁，标段进入评标。",
}


def advance_confirmation(stage: Stage, lots: int = 1) -> str:
    """The confirmation staff read before ending the window of ``stage`` early (``lots`` together)."""
    who = f"全部 {lots} 个标段" if lots > 1 else ""
    effect = ADVANCE_EFFECTS.get(stage, "")
    return f"{who}{effect}此操作不能撤回。确定{who}进入下一阶段？"


#: Every move a ceremony may make: it opens at the deadline (or fails, or is cancelled before it),
#: then only forward, one window at a time. The three end stages are final.
STAGE_MOVES: dict[Stage, frozenset[Stage]] = {
    Stage.SCHEDULED: frozenset({Stage.SIGN_IN, Stage.FAILED, Stage.CANCELLED}),
    **{frm: frozenset({to}) for frm, to in NEXT.items()},
    **{end: frozenset() for end in FINAL_STAGES},
}

#: Moments after which a signed checkpoint is published (full trace: provable years later).
DECISIVE: dict[Stage, str] = {
    Stage.READING: "decryption_window_end",
    Stage.CONFIRMING: "opening_record",
    Stage.CLOSED: "opening_record_final",
    Stage.FAILED: "lot_failed",
    Stage.CANCELLED: "tender_terminated",
}


def next_stages(stage: Stage) -> list[str]:
    """The stage staff may enter from ``stage`` (the API's ``next_stages``): the next window, none
    before the opening (the deadline opens it) or after the end."""
    return [NEXT[stage].value] if stage in NEXT else []


def may_move(frm: Stage, to: Stage) -> bool:
    return to in STAGE_MOVES[frm]


def stage_payload(c: Ceremony) -> dict[str, Any]:
    """The room's view of the current stage and its window (what the live room's ``stage`` event carries)."""
    return {
        "stage": c.stage.value,
        "label": c.stage.label,
        "started_at": c.stage_started_at.isoformat(),
        "ends_at": c.stage_ends_at.isoformat() if c.stage_ends_at else None,
        "paused": c.paused_at is not None,
        "remaining_seconds": c.remaining_seconds,
    }


def move_ceremony(
    session: Session,
    actor: Actor,
    c: Ceremony,
    to: Stage,
    *,
    now: dt.datetime,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """Move ``c`` to ``to`` (Conflict ``ceremony_transition`` if the table forbids it): the new
    stage's window starts at ``now`` (a pause does not carry over), with the audit event, the room's
    event and, at a decisive moment, the checkpoint request in the caller's transaction. ``detail``
    goes into both events."""
    frm = c.stage
    if not may_move(frm, to):
        raise Conflict(f"开标{frm.label}，不能进入“{to.label}”", code="ceremony_transition")
    c.stage, c.stage_started_at = to, now
    c.stage_ends_at = None if to in FINAL_STAGES else now + c.window(to)
    c.paused_at, c.remaining_seconds = None, None
    extra = dict(detail or {})
    record_event(session, actor, f"ceremony.{to.value}", c, {"from": frm.value, "to": to.value, **extra})
    add_event(session, c, "stage", stage_payload(c) | extra)
    if to in DECISIVE:
        request_checkpoint(session, DECISIVE[to], f"ceremony:{c.id}")
