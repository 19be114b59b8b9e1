"""The monitor's and the statistics' API bodies (documentation and the schemathesis checks read them)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from trading.core.apispec import Reply


class StatisticsQuery(BaseModel):
    by: str = Field(
        "category", description="维度：category（交易类别）、procedure（交易方式）、region（地区）、month（月份）"
    )
    year: int | None = Field(None, ge=2000, le=2100, description="年份（北京时间，按标段结束的时间）；不填为全部")
    source: str = Field("all", description="数据来源：all、trail（审计日志）、generated（演示生成数据）")


class StatisticsRowOut(Reply):
    key: str = Field(description="分组代码（类别、交易方式代码、GB/T 2260 行政区划代码、YYYY-MM 或 total）")
    label: str
    source: str = Field(description="trail（全部来自审计日志）、generated（全部为演示生成数据）或 mixed")
    tenders: int
    lots: int
    awarded: int
    failed: int
    terminated: int
    budget: str = Field(description="预算金额合计（元，两位小数）")
    award: str = Field(description="中标金额合计（元）")
    awarded_budget: str = Field(description="中标标段的预算合计（元）：节资率的分母")
    savings_rate: str | None = Field(description="节资率（六位小数的比值）")
    failure_rate: str | None
    average_bids: str | None
    average_days: str | None
    generated_lots: int = Field(description="其中演示生成的标段数（不在审计日志中）")


class StatisticsOut(Reply):
    dimension: str
    dimension_label: str
    filters: dict[str, str | int | None]
    formulas: dict[str, str] = Field(description="节资率等指标的公式与口径")
    generated_lots: int = Field(description="统计中包含的演示生成标段数")
    rows: list[StatisticsRowOut]
    total: StatisticsRowOut


class WarningOut(Reply):
    id: int = Field(description="计时的编号：/api/v1/supervision/warnings/{id} 有其起止事件和包含证明")
    rule_code: str
    title: str
    colour: str = Field(description="green、yellow、red")
    worst: str = Field(description="曾经达到的最严重颜色（红灯追责：红灯保留）")
    due_at: str
    stopped: bool
    paused: bool = Field(description="标段暂停期间暂停计时")


class MonitorComplaintOut(Reply):
    id: int
    number: str
    state: str
    state_label: str
    finding_label: str | None = Field(description="处理结论：属实、部分属实、不属实")


class MonitorRoomOut(Reply):
    kind: str = Field(description="opening（开标室）或 evaluation（评标室）")
    id: int
    tender: str
    title: str
    lot: int
    lot_name: str
    stage: str
    stage_label: str
    deadline_passed: bool
    next_label: str | None = Field(description="倒计时指向的时刻，如“签到截止”")
    next_at: str | None
    paused: bool
    bids: int | None = Field(description="开标后读出的投标数；投标截止前不提供")
    url: str | None = Field(description="监督人员可只读查看的房间页面")
    warnings: list[WarningOut]
    suspended: bool = Field(description="标段是否因投诉处理暂停招标投标活动")
    complaints: list[MonitorComplaintOut] = Field(description="涉及本标段（或整个项目）的投诉")


class MonitorOut(Reply):
    server_time: str
    today: str
    openings: list[MonitorRoomOut]
    evaluations: list[MonitorRoomOut]
    live: dict[str, str] | None = Field(description="实时推送：live 服务器地址、路径与凭证（未配置时为空）")
