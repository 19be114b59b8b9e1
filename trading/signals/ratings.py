"""The rules of the two ratings, as plain functions over plain data.

**标后评价 (experts).** 《评标专家和评标专家库管理办法》(国家发展计划委员会令第29号，2013年修订)
第十五条：组建评标专家库的省级人民政府、政府部门或者招标代理机构，应当对评标专家实施动态管理，
对评标专家的评标活动进行评价，建立评标专家考核档案; local 评标专家考核办法 score each evaluation
on 守时 (punctuality), 勤勉 (diligence), 专业水平 (quality) and 评标纪律 (discipline). Here each is a
mark of 1–5; a mark below 3 needs a written reason (10–500 characters) so the expert and anyone
reviewing the suspension can see why.

An expert's standing is the average of its last ``window`` ratings (each rating counts as the mean of
its four marks); with fewer than ``window`` ratings there is no standing yet (a single rater cannot
take an expert out of the pool). An expert whose standing is **strictly below** ``threshold`` is
suspended from draws for ``days`` days (the day of the rating counted as the first). The platform
writes that suspension as a credit entry (``trading.credit.entries.add_entry``, measure
DRAW_SUSPENSION) and the draw reads every suspension from the register.

**好差评 (services).** 《国务院办公厅关于建立政务服务“好差评”制度提高政务服务水平的意见》
(国办发〔2019〕51号): five grades, 非常满意 (5) … 非常不满意 (1); 不满意 and 非常不满意 are 差评,
which the center verifies and answers (整改), and the results are public. The answer's limit is the
supervision rule ``service_rating_answer`` (15 working days, editable by supervisors); the rating's
``answer_due`` is computed with the same calendar when the rating is made.

Configuration (environment variables, read into ``Settings.ratings``; ``create_app`` refuses to
start with one out of bounds; ``policy_from``):

| variable | default | meaning |
|---|---|---|
| GGZY_RATING_WINDOW | 5 | how many of an expert's latest ratings are averaged (1–10) |
| GGZY_RATING_THRESHOLD | 3.0 | an average strictly below it suspends (1.0–5.0, one decimal) |
| GGZY_RATING_SUSPENSION_DAYS | 90 | how long the suspension lasts, in calendar days (1–3650) |
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from archive.clock import SHANGHAI
from trading.core.formats import month_of

# ---------------------------------------------------------------- expert ratings
#: the four marks of 标后评价, in the order forms and tables show them
MARKS: dict[str, str] = {
    "punctuality": "守时",
    "diligence": "勤勉尽责",
    "quality": "专业水平",
    "discipline": "评标纪律",
}
MARK_MIN, MARK_MAX = 1, 5
#: a mark below this needs a written reason
REASON_BELOW = 3
REASON_MIN, REASON_MAX = 10, 500

WINDOW_RANGE = (1, 10)
THRESHOLD_RANGE = (Decimal("1.0"), Decimal("5.0"))
DAYS_RANGE = (1, 3650)
ENV_WINDOW, ENV_THRESHOLD, ENV_DAYS = "GGZY_RATING_WINDOW", "GGZY_RATING_THRESHOLD", "GGZY_RATING_SUSPENSION_DAYS"


class PolicyError(ValueError):
    """A rating setting outside its bounds (the variable is named)."""


@dataclass(frozen=True)
class Policy:
    window: int = 5
    threshold: Decimal = Decimal("3.0")
    days: int = 90


def policy_from(env: Mapping[str, str]) -> Policy:
    """The policy from ``env`` (``os.environ``), each value within its bounds, or a PolicyError."""
    window, days, threshold = Policy.window, Policy.days, Policy.threshold
    raw = (env.get(ENV_WINDOW) or "").strip()
    if raw:
        if not (raw.isascii() and raw.isdigit() and WINDOW_RANGE[0] <= int(raw) <= WINDOW_RANGE[1]):
            raise PolicyError(f"{ENV_WINDOW} 应为 {WINDOW_RANGE[0]}–{WINDOW_RANGE[1]} 的整数")
        window = int(raw)
    raw = (env.get(ENV_DAYS) or "").strip()
    if raw:
        if not (raw.isascii() and raw.isdigit() and DAYS_RANGE[0] <= int(raw) <= DAYS_RANGE[1]):
            raise PolicyError(f"{ENV_DAYS} 应为 {DAYS_RANGE[0]}–{DAYS_RANGE[1]} 的整数")
        days = int(raw)
    raw = (env.get(ENV_THRESHOLD) or "").strip()
    if raw:
        try:
            value = Decimal(raw) if raw.isascii() else Decimal("NaN")
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or not THRESHOLD_RANGE[0] <= value <= THRESHOLD_RANGE[1]:
            raise PolicyError(f"{ENV_THRESHOLD} 应为 1.0–5.0 之间的数")
        threshold = value
    return Policy(window, threshold, days)


def marks_errors(marks: Mapping[str, int], reasons: str) -> dict[str, str]:
    """What is wrong with a rating's marks and reasons, by field (empty: nothing)."""
    errors: dict[str, str] = {}
    for key, label in MARKS.items():
        v = marks.get(key)
        if not isinstance(v, int) or isinstance(v, bool) or not MARK_MIN <= v <= MARK_MAX:
            errors[key] = f"{label}应为 {MARK_MIN}–{MARK_MAX} 的整数"
    low = [MARKS[k] for k in MARKS if k not in errors and marks[k] < REASON_BELOW]
    text = reasons.strip()
    if low and len(text) < REASON_MIN:
        errors["reasons"] = f"{'、'.join(low)}低于 {REASON_BELOW} 分，须写明理由（{REASON_MIN}–{REASON_MAX} 字）"
    elif len(text) > REASON_MAX:
        errors["reasons"] = f"理由不超过 {REASON_MAX} 字"
    return errors


def rating_average(marks: Mapping[str, int]) -> Decimal:
    """One rating's value: the mean of its four marks (exact: a quarter is the finest step)."""
    return Decimal(sum(marks[k] for k in MARKS)) / len(MARKS)


def standing(averages: Sequence[Decimal], window: int) -> Decimal | None:
    """The average of the last ``window`` rating values (oldest first in ``averages``), or None
    while there are fewer than ``window``."""
    if window < 1 or len(averages) < window:
        return None
    last = averages[-window:]
    return sum(last, Decimal(0)) / window


def suspends(value: Decimal | None, threshold: Decimal) -> bool:
    """Strictly below the threshold: an expert exactly at it stays in the pool."""
    return value is not None and value < threshold


def center_rated(raters: Sequence[str]) -> bool:
    """Whether the center (交易中心) is among the raters of the window: a suspension follows the
    center's assessment too, never a tenderee's alone (one tenderee that met the same expert on
    every evaluation of the window could otherwise suspend it by itself)."""
    return "staff" in raters


def suspension_period(on: dt.date, days: int) -> tuple[dt.date, dt.date]:
    """The first and last day (inclusive) of a suspension of ``days`` days starting ``on``."""
    return on, on + dt.timedelta(days=days - 1)


# ---------------------------------------------------------------- service ratings
SCORE_LABELS: dict[int, str] = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
#: a score at or below this is a 差评 (不满意, 非常不满意)
BAD_AT_MOST = 2
COMMENT_MAX = 500
ANSWER_MIN, ANSWER_MAX = 10, 1000
#: the answer's limit when no supervision rule says otherwise (国办发〔2019〕51号 差评整改; the rule)
ANSWER_WORKING_DAYS = 15


def is_bad(score: int) -> bool:
    return score <= BAD_AT_MOST


def score_label(score: int) -> str:
    return SCORE_LABELS.get(score, str(score))


@dataclass(frozen=True)
class RatingFact:
    """What the aggregates need of a service rating (a row, or generated data in a test)."""

    service: str
    score: int
    at: dt.datetime
    answer_due: dt.datetime | None
    answered_at: dt.datetime | None


@dataclass
class Cell:
    """One service kind in one month (``month`` ``YYYY-MM`` Beijing time; ``""``: every month)."""

    service: str
    month: str
    count: int = 0
    total: int = 0
    bad: int = 0
    answered: int = 0
    on_time: int = 0

    @property
    def average(self) -> Decimal | None:
        return Decimal(self.total) / self.count if self.count else None

    @property
    def bad_share(self) -> Decimal | None:
        """差评率: the share of 差评 among the ratings (0–1)."""
        return Decimal(self.bad) / self.count if self.count else None

    @property
    def on_time_share(self) -> Decimal | None:
        """按时答复率: the share of 差评 answered by their due instant (0–1)."""
        return Decimal(self.on_time) / self.bad if self.bad else None


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of ``YYYY-MM`` (Beijing) and of the month after, in UTC."""
    year, mon = int(month[:4]), int(month[5:7])
    nxt = (year + 1, 1) if mon == 12 else (year, mon + 1)
    start = dt.datetime(year, mon, 1, tzinfo=SHANGHAI)
    return start.astimezone(dt.UTC), dt.datetime(*nxt, 1, tzinfo=SHANGHAI).astimezone(dt.UTC)


def aggregate(facts: Iterable[RatingFact]) -> dict[tuple[str, str], Cell]:
    """Cells by (service, month) and by (service, "") for every month together."""
    out: dict[tuple[str, str], Cell] = {}
    for f in facts:
        for month in (month_of(f.at), ""):
            c = out.setdefault((f.service, month), Cell(f.service, month))
            c.count += 1
            c.total += f.score
            if is_bad(f.score):
                c.bad += 1
                if f.answered_at is not None:
                    c.answered += 1
                    if f.answer_due is None or f.answered_at <= f.answer_due:
                        c.on_time += 1
    return out


def percent(share: Decimal | None) -> str:
    return "—" if share is None else f"{(share * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP)}%"
