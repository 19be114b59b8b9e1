"""Which credit entries hold against whom, where and when: plain functions over plain data.

Sources:
- 失信被执行人: 最高人民法院等《关于在招标投标活动中对失信被执行人实施联合惩戒的通知》(法〔2016〕285号):
  a dishonest judgment debtor is restricted from bidding in tenders.
- 重大税收违法失信主体: 《关于对重大税收违法案件当事人实施联合惩戒措施的合作备忘录》(发改财金〔2014〕3062号)
  and 《重大税收违法失信主体信息公布管理办法》(税务总局令第54号).
- 政府采购严重违法失信行为记录: 《政府采购法》第二十二条, 《关于在政府采购活动中查询及使用信用记录有关
  问题的通知》(财库〔2016〕125号): the lists are checked at the time of evaluation (截止时点 to 评审),
  the result of the check is kept with the procurement file.
- The platform's own entries come only from a proposal a staff member confirmed (domain.md: nothing is
  sanctioned automatically) or from an expert's ratings (《评标专家和评标专家库管理办法》第十五条:
  an expert's performance is assessed after each evaluation).

Scope: a region code covers the codes under it (``000000`` every region, ``350000`` a province,
``350100`` a city, anything else only itself); a category of None covers every trade category. An
entry holds from ``starts_on`` to ``ends_on`` inclusive (None: no end) unless it was revoked before
the check was made.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass

from trading.credit.models import CreditList, Measure, SubjectKind

NATIONWIDE = "000000"
REGION_CODE = re.compile(r"^\d{6}$", re.ASCII)
#: What an organisation's check looks for: measures that bar a bidder, and the ones the committee is told of.
ORGANISATION_MEASURES = frozenset({Measure.BAR_BIDDING, Measure.NOTICE})


@dataclass(frozen=True)
class EntryFacts:
    """What the rules need of an entry (a row of ``credit_entry``, or an imported row before it is one)."""

    subject_kind: SubjectKind
    subject_id: str
    list_kind: CreditList
    measure: Measure
    region: str
    category: str | None
    starts_on: dt.date
    ends_on: dt.date | None
    revoked_at: dt.datetime | None = None


@dataclass(frozen=True)
class Scope:
    """Where and when a check looks: the tender's region and category, on one day."""

    region: str
    category: str
    on: dt.date


def region_covers(entry_region: str, region: str) -> bool:
    """Whether an entry scoped to ``entry_region`` reaches ``region`` (GB/T 2260: 2 digits of
    province, 2 of city, 2 of county; trailing zeros are the higher level)."""
    if entry_region == NATIONWIDE:
        return True
    if entry_region.endswith("0000"):
        return region[:2] == entry_region[:2]
    if entry_region.endswith("00"):
        return region[:4] == entry_region[:4]
    return region == entry_region


def in_force(entry: EntryFacts, on: dt.date, at: dt.datetime) -> bool:
    """Holds on day ``on`` as the register stood at instant ``at`` (a revocation after ``at`` did
    not exist yet for that check; one before it ends the entry)."""
    if entry.revoked_at is not None and entry.revoked_at <= at:
        return False
    return entry.starts_on <= on and (entry.ends_on is None or on <= entry.ends_on)


def applies(entry: EntryFacts, scope: Scope, at: dt.datetime) -> bool:
    """The entry holds for this region, category and day."""
    return (
        in_force(entry, scope.on, at)
        and region_covers(entry.region, scope.region)
        and (entry.category is None or entry.category == scope.category)
    )


def result(barred: bool, found: bool) -> str:
    """A check's result: ``barred`` (an entry refuses the bidder), ``found`` (notices only), ``clean``."""
    return "barred" if barred else ("found" if found else "clean")


def bars(entry: EntryFacts) -> bool:
    """An entry in force that refuses the bidder (a notice only informs the committee)."""
    return entry.measure is Measure.BAR_BIDDING


def measures_for(kind: SubjectKind) -> frozenset[Measure]:
    return ORGANISATION_MEASURES if kind is SubjectKind.ORGANISATION else frozenset({Measure.DRAW_SUSPENSION})


def period_error(starts_on: dt.date, ends_on: dt.date | None) -> str | None:
    if ends_on is not None and ends_on < starts_on:
        return "结束日期早于开始日期 (ends before it starts)"
    return None


def suspended_until(entries: list[EntryFacts], on: dt.date, at: dt.datetime) -> dt.date | None:
    """The last day an expert stays out of draws from ``on`` (the longest suspension in force;
    ``date.max`` for one without an end), or None."""
    ends = [e.ends_on or dt.date.max for e in entries if e.measure is Measure.DRAW_SUSPENSION and in_force(e, on, at)]
    return max(ends, default=None)


#: The trade categories an entry may be scoped to: ``trading.tenders.models.TenderCategory``'s values,
#: kept here because credit comes before tenders in the stage order (a test keeps the two equal).
CATEGORIES = ("construction", "goods", "services", "land_use", "mining", "state_property", "emission")
#: as pages name them (the tenders stage's labels; a test keeps the two tables equal)
CATEGORY_LABELS = {
    "construction": "工程建设",
    "goods": "政府采购（货物）",
    "services": "政府采购（服务）",
    "land_use": "土地使用权",
    "mining": "矿业权",
    "state_property": "国有产权",
    "emission": "排污权",
}


def category_label(value: str | None) -> str:
    return CATEGORY_LABELS.get(value, value) if value else "全部类别"


def state_label(entry: EntryFacts, on: dt.date, at: dt.datetime) -> str:
    """What an entry is on day ``on``: revoked, not yet in force, expired, or in force."""
    if entry.revoked_at is not None and entry.revoked_at <= at:
        return "已撤销"
    if on < entry.starts_on:
        return "未生效"
    if entry.ends_on is not None and entry.ends_on < on:
        return "已到期"
    return "有效"


#: the feeds that are not a list kind (whose labels name the others)
SOURCE_LABELS = {"proposal": "平台信用事件（工作人员确认）", "rating": "专家标后评价"}


def source_label(source: str) -> str:
    try:
        return CreditList(source).label
    except ValueError:
        return SOURCE_LABELS.get(source, source)


def region_label(code: str, name_of: Callable[[str], str]) -> str:
    return "全国" if code == NATIONWIDE else name_of(code)


#: what an expert is known by in the register: the platform's expert number
EXPERT_NUMBER = re.compile(r"^[1-9]\d{0,17}$", re.ASCII)
