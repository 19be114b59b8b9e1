"""What the ratings API accepts and answers: 标后评价 of experts and 好差评 of services."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from trading.core.apispec import Reply
from trading.core.schemas import OneLine, Schema, TextBlock
from trading.signals import ratings as rules
from trading.signals.models import RaterRole, ServiceKind


class ExpertRatingIn(Schema):
    """One rater's marks for one expert (1–5 each); any mark below 3 needs reasons (10–500 字)."""

    expert_id: int = Field(title="专家", ge=1, le=2**31 - 1, description="专家编号（本次评标签到且未回避的评标专家）")
    punctuality: int = Field(title="守时", description="守时（1–5）", ge=1, le=5)
    diligence: int = Field(title="勤勉尽责", description="勤勉尽责（1–5）", ge=1, le=5)
    quality: int = Field(title="专业水平", description="专业水平（1–5）", ge=1, le=5)
    discipline: int = Field(title="评标纪律", description="评标纪律（1–5）", ge=1, le=5)
    reasons: TextBlock = Field(
        "", title="理由", max_length=rules.REASON_MAX, description="任一项低于 3 分时必填（10–500 字）"
    )


class ExpertRatingOut(Reply):
    id: int
    evaluation: int
    expert: int
    expert_name: str
    role: RaterRole
    role_label: str
    punctuality: int
    diligence: int
    quality: int
    discipline: int
    average: str = Field(description="四项平均分")
    reasons: str
    at: dt.datetime


class SuspensionOut(Reply):
    credit_entry: int
    starts_on: dt.date
    ends_on: dt.date | None


class ExpertRatedOut(Reply):
    rating: ExpertRatingOut
    suspension: SuspensionOut | None = Field(description="本次评价使该专家被暂停抽取时的信用记录")


class SittingExpertOut(Reply):
    id: int
    name: str
    rated_by: list[RaterRole] = Field(description="已评价该专家的评价方")


class EvaluationRatingsOut(Reply):
    evaluation: int
    tender: str
    lot: int
    state: str
    open: bool = Field(description="评标报告已全体签署，可以评价")
    my_role: RaterRole | None = Field(description="当前用户以何种身份评价（无权评价时为空）")
    experts: list[SittingExpertOut]
    ratings: list[ExpertRatingOut]


class ServiceRatingIn(Schema):
    service: ServiceKind = Field(
        title="服务",
        description="publication_review（公告审核发布）、opening（开标）、evaluation（评标）、complaint（投诉处理）",
    )
    subject: OneLine = Field(
        title="服务对象",
        min_length=1,
        max_length=40,
        description="项目编号；开标为“项目编号/标段号”；评标为评标编号；投诉为投诉编号",
    )
    score: int = Field(title="评分", ge=1, le=5, description="5 非常满意、4 满意、3 基本满意、2 不满意、1 非常不满意")
    comment: TextBlock = Field("", title="评价意见", max_length=rules.COMMENT_MAX, description="评价意见（可空）")


class ServiceRatingOut(Reply):
    id: int
    service: ServiceKind
    service_label: str
    subject: str
    tender: str | None
    role: RaterRole
    score: int
    score_label: str
    comment: str
    at: dt.datetime
    bad: bool = Field(description="差评（不满意、非常不满意）")
    answer_due: dt.datetime | None
    answer: str | None
    answered_at: dt.datetime | None


class BadRatingOut(ServiceRatingOut):
    org_name: str = Field(description="评价单位（仅交易中心可见）")
    late: bool = Field(description="已超过答复期限（或超期后才答复）")


class BadRatingsOut(Reply):
    items: list[BadRatingOut]


class ServiceOut(Reply):
    service: ServiceKind
    service_label: str
    subject: str
    tender: str | None
    title: str
    role: RaterRole
    ended_at: dt.datetime | None


class PendingOut(Reply):
    items: list[ServiceOut]


class AnswerIn(Schema):
    text: TextBlock = Field(
        title="答复", min_length=rules.ANSWER_MIN, max_length=rules.ANSWER_MAX, description="核实整改情况（10–1000 字）"
    )


class AggregatesQuery(BaseModel):
    month: str | None = Field(None, description="只看某月（北京时间，YYYY-MM）")


class CellOut(Reply):
    service: str
    service_label: str
    month: str = Field(description="YYYY-MM（北京时间）；空字符串为全部月份合计")
    count: int
    average: str | None = Field(description="平均分（1–5）")
    bad: int = Field(description="差评数")
    bad_share: str | None = Field(description="差评率（0–1）")
    answered: int
    on_time: int = Field(description="按时答复的差评数")
    on_time_share: str | None = Field(description="按时答复率（0–1）")


class AnsweredOut(Reply):
    service: str
    service_label: str
    month: str
    score: int
    score_label: str
    answer: str
    answered_at: dt.datetime
    on_time: bool


class AggregatesOut(Reply):
    month: str | None
    cells: list[CellOut]
    answered: list[AnsweredOut] = Field(description="已答复的差评：交易中心的答复（不含评价人和评价意见）")
