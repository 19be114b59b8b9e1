"""Scoring in the evaluation room: each expert's sheets (nobody sees another's before submitting
all of its own), the checks over them and the leader's resolution of what they flag.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import record_event
from trading.accounts.models import User
from trading.core.errors import Conflict, InvalidInput, NotFound
from trading.evaluation import scoring
from trading.evaluation.lifecycle import require_state
from trading.evaluation.models import (
    EvalState,
    Evaluation,
    Flag,
    ScoreSheet,
)
from trading.evaluation.room import bidder, leader_or_staff, lot_and_tender, my_seat, seats, valid_bidders
from trading.tenders.models import EvaluationMethod, Lot


# ---------------------------------------------------------------- scoring
def _factors(lot: Lot) -> list[dict[str, Any]]:
    return list(lot.criteria.get("factors") or [])


def _parse_scores(lot: Lot, scores: dict[str, Any]) -> dict[str, Decimal]:
    factors = {f["name"]: int(f["weight"]) for f in _factors(lot)}
    if set(scores) != set(factors):
        raise InvalidInput(
            f"应对每个评分因素评分：{'、'.join(factors)}",
            fields={"scores": "、".join(factors)},
            code="factors_mismatch",
        )
    out = {}
    for name, raw in scores.items():
        try:
            v = Decimal(str(raw))
        except InvalidOperation:
            raise InvalidInput(f"“{name}”的得分不是数字", fields={name: "数字"}) from None
        if not v.is_finite() or v < 0 or v > factors[name] or v != v.quantize(scoring.CENT):
            raise InvalidInput(f"“{name}”的得分应在 0–{factors[name]} 之间，最多两位小数", fields={name: "分值"})
        out[name] = v
    return out


def submit_scores(
    session: Session, user: User, ev: Evaluation, bidder_id: int, scores: dict[str, Any], declared_total: Decimal
) -> ScoreSheet:
    """An expert's sheet for one bid; may be revised until the report is generated."""
    require_state(ev, EvalState.SCORING)
    seat = my_seat(session, user, ev)
    seat.require_pledged("评分")
    lot, _ = lot_and_tender(session, ev)
    if lot.evaluation_method is EvaluationMethod.LOWEST_PRICE:
        raise Conflict("最低评标价法不设评分因素", code="no_factors")
    bidder(session, ev, bidder_id, valid_only=True)
    parsed = _parse_scores(lot, scores)
    q = select(ScoreSheet).where(
        ScoreSheet.evaluation_id == ev.id,
        ScoreSheet.round == ev.round,
        ScoreSheet.expert_id == seat.expert_id,
        ScoreSheet.bidder_id == bidder_id,
    )
    sheet = session.scalar(q)
    revised = sheet is not None
    if sheet is None:
        sheet = ScoreSheet(evaluation_id=ev.id, round=ev.round, expert_id=seat.expert_id, bidder_id=bidder_id)
        session.add(sheet)
    sheet.scores = {k: str(v) for k, v in parsed.items()}
    sheet.declared_total, sheet.submitted_at = scoring.q2(Decimal(declared_total)), clock.now()
    session.flush()
    record_event(
        session,
        user,
        "evaluation.score_revise" if revised else "evaluation.score",
        sheet,
        {"bidder": bidder_id, "scores": sheet.scores, "declared_total": str(sheet.declared_total)},
    )
    return sheet


def sheets(session: Session, ev: Evaluation) -> list[ScoreSheet]:
    q = select(ScoreSheet).where(ScoreSheet.evaluation_id == ev.id, ScoreSheet.round == ev.round)
    return list(session.scalars(q.order_by(ScoreSheet.expert_id, ScoreSheet.bidder_id)))


def _complete(expert_id: int, all_sheets: list[ScoreSheet], valid: set[int]) -> bool:
    """The expert has a sheet for every bid under evaluation (``valid``: their ids)."""
    return valid <= {s.bidder_id for s in all_sheets if s.expert_id == expert_id}


def _valid_ids(session: Session, ev: Evaluation) -> set[int]:
    return {b.id for b in valid_bidders(session, ev)}


def visible_sheets(
    session: Session, user: User, ev: Evaluation, every: list[ScoreSheet] | None = None
) -> list[ScoreSheet]:
    """An expert sees its own sheets, and everybody's once all of its own are in (评分独立).
    ``every``: the round's sheets, when the caller has them already."""
    seat = my_seat(session, user, ev)
    every = sheets(session, ev) if every is None else every
    if ev.state is not EvalState.SCORING or _complete(seat.expert_id, every, _valid_ids(session, ev)):
        return every
    return [s for s in every if s.expert_id == seat.expert_id]


def as_rule_sheets(rows: list[ScoreSheet]) -> list[scoring.Sheet]:
    return [
        scoring.Sheet(r.expert_id, r.bidder_id, {k: Decimal(v) for k, v in r.scores.items()}, r.declared_total)
        for r in rows
    ]


def scores_refusal(session: Session, ev: Evaluation, rows: list[ScoreSheet] | None = None) -> Conflict | None:
    """Why the checks and the report must wait (a member has not scored every valid bid), or None."""
    lot, _ = lot_and_tender(session, ev)
    if lot.evaluation_method is EvaluationMethod.LOWEST_PRICE:
        return None
    rows = sheets(session, ev) if rows is None else rows
    valid = _valid_ids(session, ev)
    late = [s.expert_id for s in seats(session, ev) if not _complete(s.expert_id, rows, valid)]
    if late:
        return Conflict(f"尚有 {len(late)} 名专家未完成评分", code="scores_missing")
    return None


def _require_all_scored(session: Session, ev: Evaluation, rows: list[ScoreSheet]) -> None:
    refusal = scores_refusal(session, ev, rows)
    if refusal is not None:
        raise refusal


def run_checks(session: Session, user: User, ev: Evaluation, *, record_unchanged: bool = True) -> list[Flag]:
    """Recompute the findings of the current round: new ones are raised, vanished ones cleared
    (an expert revised); a resolution stays with its finding. A run that changes nothing is
    recorded only when asked for (the leader's own run, not the recheck before the report)."""
    require_state(ev, EvalState.SCORING)
    actor = leader_or_staff(session, user, ev)
    rows = sheets(session, ev)
    _require_all_scored(session, ev, rows)
    lot, _ = lot_and_tender(session, ev)
    objective = [f["name"] for f in _factors(lot) if f.get("objective")]
    findings = {f.key: f for f in scoring.checks(as_rule_sheets(rows), objective, ev.z_limit)}
    existing = {
        f.key: f for f in session.scalars(select(Flag).where(Flag.evaluation_id == ev.id, Flag.round == ev.round))
    }
    now = clock.now()
    raised, cleared = [], []
    for key, f in findings.items():
        flag = existing.get(key)
        if flag is None:
            flag = Flag(
                evaluation_id=ev.id,
                round=ev.round,
                key=key,
                kind=f.kind,
                expert_id=f.expert,
                bidder_id=f.bidder,
                factor=f.factor,
                detail=f.detail,
                raised_at=now,
            )
            session.add(flag)
            raised.append(key)
        elif flag.cleared_at is not None:
            flag.cleared_at = None
            raised.append(key)
    for key, flag in existing.items():
        if key not in findings and flag.cleared_at is None:
            flag.cleared_at = now
            cleared.append(key)
    session.flush()
    if raised or cleared or record_unchanged:
        payload = {"round": ev.round, "raised": raised, "cleared": cleared}
        record_event(session, actor, "evaluation.checks", ev, payload)
    return flags(session, ev)


def flags(session: Session, ev: Evaluation) -> list[Flag]:
    q = select(Flag).where(Flag.evaluation_id == ev.id, Flag.round == ev.round).order_by(Flag.id)
    return list(session.scalars(q))


def open_flags(session: Session, ev: Evaluation) -> list[Flag]:
    return [f for f in flags(session, ev) if f.cleared_at is None and f.resolution is None]


def resolve_flag(session: Session, user: User, ev: Evaluation, flag_id: int, reason: str) -> Flag:
    """The leader records why a flagged score stands (after the committee discussed it)."""
    require_state(ev, EvalState.SCORING)
    actor = leader_or_staff(session, user, ev)
    flag = session.get(Flag, flag_id)
    if flag is None or flag.evaluation_id != ev.id or flag.round != ev.round:
        raise NotFound("提示不存在")
    if flag.resolution is not None or flag.cleared_at is not None:
        raise Conflict("该提示已处理", code="already_resolved")
    reason = (reason or "").strip()
    if not 5 <= len(reason) <= 2000:
        raise InvalidInput("请记录讨论结论与理由（5–2000 字）", fields={"reason": "5–2000 字"})
    flag.resolution, flag.resolved_by_user_id, flag.resolved_at = reason, user.id, clock.now()
    record_event(session, actor, "evaluation.flag_resolve", flag, {"key": flag.key, "reason": reason})
    return flag
