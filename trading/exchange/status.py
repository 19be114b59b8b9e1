"""What was pushed, what waits and what was refused: the one reading of the exchange's state that
the page, the API and ``ggzy exchange status`` share."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from trading.core.errors import InvalidInput, NotFound
from trading.exchange.models import STATES, ExchangeRecord
from trading.exchange.pushing import counts

PAGE = 100
STATE_LABELS = {"queued": "待推送", "failing": "推送失败，等待重试", "pushed": "已推送", "refused": "被拒收"}
TABLE_LABELS = {
    "TENDER_PROJECT": "招标项目",
    "BID_SECTION": "标段（包）",
    "TENDER_BULLETIN": "公告",
    "BID_OPEN_DETAIL": "开标记录明细",
    "EVALUATION_SCORE_DETAIL": "评标评分明细",
    "WIN_CANDIDATE_BULLETIN": "中标候选人公示",
    "WIN_BID_BULLETIN": "中标结果公告",
    "OBJECTION": "异议",
    "OBJECTION_REPLY": "异议答复",
}


def listing(
    session: Session, state: str | None = None, tender: str | None = None, page: int = 1
) -> tuple[list[ExchangeRecord], dict[str, int]]:
    """A page of records (newest first), filtered by state and tender number, and the counts by state."""
    if state and state not in STATES:
        raise InvalidInput("未知的推送状态", fields={"state": f"应为 {'、'.join(STATES)} 之一"})
    if page < 1:
        raise InvalidInput("页码应从 1 开始", fields={"page": "≥ 1"})
    q = select(ExchangeRecord)
    if state:
        q = q.where(ExchangeRecord.state == state)
    if tender:
        q = q.where(ExchangeRecord.tender_code == tender)
    rows = session.scalars(q.order_by(ExchangeRecord.id.desc()).limit(PAGE).offset((page - 1) * PAGE)).all()
    return list(rows), counts(session)


def get_record(session: Session, record_id: int) -> ExchangeRecord:
    rec = session.get(ExchangeRecord, record_id)
    if rec is None:
        raise NotFound("数据交换记录不存在")
    return rec


def record_json(rec: ExchangeRecord, *, envelope: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rec.id,
        "table": rec.table_name,
        "data_key": rec.data_key,
        "data_timestamp": rec.data_timestamp,
        "tender": rec.tender_code,
        "source_seq": rec.source_seq,
        "state": rec.state,
        "attempts": rec.attempts,
        "next_attempt_at": rec.next_attempt_at.isoformat() if rec.state in ("queued", "failing") else None,
        "last_error": rec.last_error,
        "created_at": rec.created_at.isoformat(),
        "pushed_at": rec.pushed_at.isoformat() if rec.pushed_at else None,
    }
    if envelope:
        out["envelope"] = json.loads(rec.envelope)
    return out
