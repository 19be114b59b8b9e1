"""The exchange API's bodies (documentation and the schemathesis checks read them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from trading.core.apispec import Reply


class RecordsQuery(BaseModel):
    state: str | None = Field(
        None, description="queued（待推送）、failing（失败待重试）、pushed（已推送）、refused（被拒收）"
    )
    tender: str | None = Field(None, description="招标项目编号，如 GGZY-2026-000002")
    page: int = Field(1, ge=1, description="页码，每页 100 条")


class ExchangeRecordOut(Reply):
    id: int
    table: str = Field(description="国家数据规范的表名，如 WIN_BID_BULLETIN")
    data_key: str = Field(description="DATA_KEY：记录在其表中的标识")
    data_timestamp: str = Field(description="DATA_TIMESTAMP：来源事件的时间（UTC）")
    tender: str
    source_seq: int = Field(description="来源审计事件的序号")
    state: str
    attempts: int = Field(description="上次成功以来失败的推送次数")
    next_attempt_at: str | None = Field(description="下次推送时间（待推送或失败待重试时）")
    last_error: str | None = Field(description="接收端的错误代码与说明，或无法连接的原因")
    created_at: str
    pushed_at: str | None


class ExchangeRecordDetailOut(ExchangeRecordOut):
    envelope: dict[str, Any] = Field(description="推送的信封：记录、来源事件、附件、包含证明、检查点与平台签名")


class ExchangeRecordsOut(Reply):
    counts: dict[str, int] = Field(description="各状态的记录数")
    push_url: bool = Field(description="是否配置了推送地址（EXCHANGE_PUSH_URL）")
    records: list[ExchangeRecordOut]
