"""Requests for tenders, lots, announcements and questions; the scoring template's rules (GP87 55, Law 37)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, model_validator

from trading.accounts.regions import is_region
from trading.core.apispec import Reply
from trading.core.input_errors import hint
from trading.core.schemas import OneLine, Schema, TextBlock
from trading.tenders.models import (
    AnnouncementKind,
    AnnouncementState,
    EvaluationMethod,
    LotState,
    TenderCategory,
    TenderState,
)

#: The years an instant in a tender may fall in. No law names a last day; these bound what the
#: platform can compute with: year 1 in Beijing time is before ``datetime``'s first instant in
#: UTC, and 9999-12-31 plus the opening's windows is past its last (each a 500, not a refusal).
#: How far ahead a deadline may really be is a rule of its own (``operations.HORIZON``).
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099
REGION_REFUSED = "不是有效的行政区划代码（GB/T 2260），请从列表中选择"


def instant(v: dt.datetime) -> dt.datetime:
    """A request's instant in UTC: it must carry its zone, and its year (as written, before any
    conversion, which could overflow) must be within ``EARLIEST_YEAR``–``LATEST_YEAR``."""
    if v.tzinfo is None:
        raise ValueError("时间必须带时区，例如 2026-12-20T09:30:00+08:00")
    if not EARLIEST_YEAR <= v.year <= LATEST_YEAR:
        raise ValueError(f"时间应在 {EARLIEST_YEAR} 年至 {LATEST_YEAR} 年之间，请检查年份")
    return v.astimezone(dt.UTC)


def region_code(v: str) -> str:
    if not is_region(v):
        raise ValueError(REGION_REFUSED)
    return v


Instant = Annotated[dt.datetime, AfterValidator(instant)]
RegionCode = Annotated[str, AfterValidator(region_code)]


class Factor(Schema):
    name: OneLine = Field(min_length=1, max_length=100, title="评分因素")
    weight: int = Field(ge=1, le=100, title="权重")
    objective: bool = Field(default=False, title="客观分")  # every expert must give the same score


class PriceRule(Schema):
    formula: Literal["gp_low_price", "benchmark", "lowest"] = Field(title="价格分计算方法")
    weight: int = Field(ge=0, le=100, title="价格分权重")


class Criteria(Schema):
    compliance: list[OneLine] = Field(default_factory=list, max_length=50, title="符合性审查项")
    factors: list[Factor] = Field(default_factory=list, max_length=50, title="评分因素")
    price: PriceRule = Field(title="价格分")


class Specialty(Schema):
    code: str = Field(pattern=r"^[A-Z][0-9A-Z]{1,9}$", title="专业代码", json_schema_extra=hint("专业代码，例如 A08"))
    count: int = Field(ge=1, le=51, title="抽取人数")


class PriceField(Schema):
    name: str = Field(
        pattern=r"^[a-z][a-z0-9_]{0,39}$", title="字段名", json_schema_extra=hint("小写字母开头的字母、数字或下划线")
    )
    label: OneLine = Field(min_length=1, max_length=50, title="字段标题")
    kind: Literal["amount", "integer", "text"] = Field(title="字段类型")


class LotIn(Schema):
    name: OneLine = Field(min_length=1, max_length=200, title="标段名称")
    estimated_price: Decimal = Field(gt=0, max_digits=18, decimal_places=2, title="估算价")
    bond_amount: Decimal = Field(ge=0, max_digits=18, decimal_places=2, title="投标保证金")
    currency: Literal["CNY"] = Field(default="CNY", title="币种")
    region: RegionCode | None = Field(
        default=None, pattern=r"^\d{6}$", title="行政区划代码", json_schema_extra=hint("6 位数字")
    )
    evaluation_method: EvaluationMethod = Field(title="评标办法")
    criteria: Criteria = Field(title="评分标准")
    committee_size: int = Field(ge=5, le=51, title="评标委员会人数")
    specialties: list[Specialty] = Field(min_length=1, max_length=20, title="专家专业")
    price_fields: list[PriceField] = Field(default_factory=list, max_length=20, title="开标一览表字段")
    #: 保函加密: the guarantees' project and beneficiary stay sealed (commitments) until the opening
    guarantee_sealed: bool = Field(default=False, title="保函加密")

    @model_validator(mode="after")
    def _rules(self) -> LotIn:
        if self.bond_amount * 50 > self.estimated_price:
            raise ValueError("投标保证金不得超过招标项目估算价的 2%（招标投标法实施条例第二十六条）")
        if self.committee_size % 2 == 0:
            raise ValueError("评标委员会人数应为 5 人以上单数（招标投标法第三十七条）")
        experts = sum(s.count for s in self.specialties)
        if experts > self.committee_size or 3 * experts < 2 * self.committee_size:
            raise ValueError("技术、经济等方面的专家不得少于成员总数的三分之二，且不超过委员会人数")
        c = self.criteria
        if self.evaluation_method is EvaluationMethod.LOWEST_PRICE:
            if c.factors or c.price.formula != "lowest":
                raise ValueError("最低评标价法不设评分因素，价格公式应为 lowest")
        else:
            if c.price.formula == "lowest":
                raise ValueError("综合评分法的价格公式应为 gp_low_price 或 benchmark")
            total = sum(f.weight for f in c.factors) + c.price.weight
            if total != 100:
                raise ValueError(f"评分因素与价格分权重之和应为 100，当前为 {total}")
        names = [f.name for f in self.price_fields]
        if len(set(names)) != len(names) or "price" in names:
            raise ValueError("开标一览表字段名不得重复，price 为保留字段")
        return self


class TenderIn(Schema):
    title: OneLine = Field(min_length=4, max_length=200, title="项目名称")
    description: TextBlock = Field(default="", max_length=20_000, title="项目概况")
    category: TenderCategory = Field(title="类别")
    procedure_code: OneLine = Field(min_length=1, max_length=40, title="招标方式")
    region: RegionCode = Field(pattern=r"^\d{6}$", title="行政区划代码", json_schema_extra=hint("6 位数字"))
    agency_org_id: int | None = Field(default=None, title="代理机构")
    tenderee_org_id: int | None = Field(default=None, title="招标人")  # required when an agency creates it
    bid_deadline: Instant = Field(title="投标截止时间")
    bid_validity_days: int = Field(default=90, ge=30, le=365, title="投标有效期")
    #: 多标段合并开标 (one room, the lots' stages move together); left out, a new tender has none
    #: and an edited one keeps what it had (a client that does not know the field cannot undo it)
    joint_opening: bool | None = Field(default=None, title="合并开标")
    announcement_body: TextBlock = Field(min_length=10, max_length=50_000, title="招标公告正文")
    lots: list[LotIn] = Field(min_length=1, max_length=50, title="标段")

    @model_validator(mode="after")
    def _gp_price_weight(self) -> TenderIn:
        bounds = {TenderCategory.GOODS: (30, 60), TenderCategory.SERVICES: (10, 30)}.get(self.category)
        if bounds:
            for lot in self.lots:
                w = lot.criteria.price.weight
                if lot.evaluation_method is EvaluationMethod.COMPREHENSIVE and not bounds[0] <= w <= bounds[1]:
                    raise ValueError(
                        f"政府采购{'货物' if self.category is TenderCategory.GOODS else '服务'}项目价格分权重应为 "
                        f"{bounds[0]}%–{bounds[1]}%（财政部令第87号第五十五条），标段“{lot.name}”为 {w}%"
                    )
        return self


class ReasonIn(Schema):
    reason: TextBlock = Field(min_length=2, max_length=2000, title="理由")


class ResumeIn(Schema):
    new_deadline: Instant = Field(title="新的投标截止时间")


class QuestionIn(Schema):
    text: TextBlock = Field(min_length=5, max_length=2000, title="问题")


class InterestIn(Schema):
    """报名 (the body is optional: an empty request registers without a contact)."""

    contact_name: OneLine = Field("", max_length=50, title="报名联系人")
    contact_phone: str = Field("", max_length=20, pattern=r"^[0-9+\-]*$", title="联系电话（数字、+、-）")


class AnswerIn(Schema):
    answer: TextBlock = Field(min_length=2, max_length=10_000, title="答复")


class AmendmentIn(Schema):
    title: OneLine = Field(min_length=4, max_length=200, title="公告标题")
    body: TextBlock = Field(min_length=10, max_length=50_000, title="公告内容")
    affects_bids: bool = Field(title="影响投标文件编制")
    new_deadline: Instant | None = Field(default=None, title="新的投标截止时间")


# ---------------------------------------------------------------- answers (the API's shapes, shapes.py)
Money = Annotated[str, Field(description="金额，十进制字符串，单位元", examples=["1200000.00"])]


class LotOut(Reply):
    number: int
    name: str
    estimated_price: Money
    bond_amount: Money
    currency: str
    region: str
    evaluation_method: EvaluationMethod
    criteria: dict[str, Any] = Field(description="评分标准（与请求中的 criteria 同形）")
    committee_size: int
    specialties: list[dict[str, Any]] = Field(description="专家专业：[{code, count}]")
    price_fields: list[dict[str, Any]] = Field(description="开标一览表字段：[{name, label, kind}]")
    guarantee_sealed: bool
    status: LotState
    status_label: str


class AnnouncementOut(Reply):
    id: int
    kind: AnnouncementKind
    kind_label: str
    status: AnnouncementState
    title: str
    body: str
    published_at: dt.datetime | None
    supersedes_id: int | None
    affects_bids: bool
    deadline_after: dt.datetime | None
    content_sm3: str | None
    review_reason: str | None


class TenderDocumentOut(Reply):
    id: int
    name: str
    sm3: str = Field(description="文件的 SM3（十六进制）")
    size: int
    signature: str = Field(description="招标人对文件 SM3 的 SM2 签名（base64）")
    signer_cert_sm3: str
    signer_certificate: str | None = Field(description="招标人的签名证书（PEM），供离线验签")
    announcement_id: int | None


class TenderOut(Reply):
    code: str
    title: str
    description: str
    category: TenderCategory
    procedure_code: str
    region: str
    status: TenderState
    status_label: str
    bid_deadline: dt.datetime | None
    bid_deadline_local: str = Field(description="投标截止时间（北京时间，YYYY-MM-DD HH:MM）")
    opening_at: dt.datetime | None
    bid_validity_days: int
    joint_opening: bool
    docs_issued_at: dt.datetime | None
    return_reason: str | None
    tenderee: str
    agency: str | None
    lots: list[LotOut]
    announcements: list[AnnouncementOut]
    documents: list[TenderDocumentOut]


class MyTenderOut(Reply):
    code: str
    title: str
    status: TenderState
    bid_deadline: dt.datetime | None


class MyTendersOut(Reply):
    items: list[MyTenderOut]


class UploadedDocumentOut(Reply):
    id: int
    name: str
    sm3: str
    size: int


class QuestionAnsweredOut(Reply):
    id: int
    answered_at: dt.datetime | None


class QuestionAskedOut(Reply):
    id: int
    asked_at: dt.datetime | None


class QuestionOut(Reply):
    id: int
    text: str
    asked_at: dt.datetime | None
    answer: str | None
    answered_at: dt.datetime | None


class QuestionsOut(Reply):
    items: list[QuestionOut]


class ReviewTenderOut(Reply):
    code: str
    title: str
    submitted: dt.datetime | None


class ReviewAnnouncementOut(AnnouncementOut):
    tender: str = Field(description="项目编号")


class UnansweredQuestionOut(Reply):
    tender: int = Field(description="项目的内部编号")
    id: int
    text: str
    asked_at: dt.datetime | None


class ReviewQueueOut(Reply):
    tenders: list[ReviewTenderOut]
    announcements: list[ReviewAnnouncementOut]
    unanswered_questions: list[UnansweredQuestionOut]


class RegisteredOut(Reply):
    registered: bool
    credit_check_sm3: str | None = Field(None, title="报名时的信用查询（平台签名快照）的 SM3")
    credit_result: str | None = Field(None, title="clean | found（有信用提示） | barred")


class CertificateBriefOut(Reply):
    fingerprint: str
    subject: dict[str, str] = Field(description="证书主体：common_name、country_name 等")
    not_after: dt.datetime | None


class MyCertificatesOut(Reply):
    sign: CertificateBriefOut | None
    encrypt: CertificateBriefOut | None


class NotificationOut(Reply):
    id: int
    tender: str | None = Field(description="所涉项目的编号（与项目无关的通知为 null）")
    message: str
    created_at: dt.datetime | None


class NotificationsOut(Reply):
    items: list[NotificationOut] = Field(description="无 since：最新的 20 条，新的在前；有 since：其后的，旧的在前")
    server_time: dt.datetime
    more: bool = Field(description="有 since 时：其后还有通知，以本页最后一条的 created_at 为 since 再取")


class NotificationsQuery(Schema):
    since: dt.datetime | None = Field(
        default=None, title="只取此时刻之后的通知（ISO 8601，带时区），旧的在前", examples=["2026-12-01T08:00:00+08:00"]
    )
    limit: int | None = Field(default=None, ge=1, le=100, title="条数（无 since 默认 20，有 since 默认 100）")
