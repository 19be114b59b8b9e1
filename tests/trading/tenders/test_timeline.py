"""The tender timeline's rule (which steps, in what order, what is done, where "now" is) and its
drawing (escaped, readable on a phone)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from trading.tenders.models import Lot, LotState, Tender, TenderState
from trading.tenders.timeline import (
    STEP_NAMES,
    LotFacts,
    Step,
    StepState,
    draw,
    lot_steps,
    now_index,
)

T0 = dt.datetime(2026, 12, 1, 1, 0, tzinfo=dt.UTC)  # 09:00 Beijing
DEADLINE = T0 + dt.timedelta(days=21)


def tender_and_lot(
    status: TenderState = TenderState.PUBLISHED, lot_status: LotState = LotState.BIDDING, issued: bool = True
) -> tuple[Tender, Lot]:
    tender = Tender(
        title="闽江大桥维修加固工程",
        status=status,
        bid_deadline=DEADLINE,
        docs_issued_at=T0 if issued else None,
        updated_at=T0 + dt.timedelta(days=2),
    )
    lot = Lot(number=1, name="施工", status=lot_status)
    return tender, lot


def states(steps: list[Step]) -> list[tuple[str, StepState]]:
    return [(s.name, s.state) for s in steps]


D, C, TODO, SKIP, END = StepState.DONE, StepState.CURRENT, StepState.TODO, StepState.SKIPPED, StepState.ENDED


@pytest.mark.parametrize(
    ("status", "lot_status", "issued", "facts", "now", "expected", "marker"),
    [
        # a draft: nothing has begun; the deadline is planned
        (TenderState.DRAFT, LotState.BIDDING, False, LotFacts(), T0, [TODO, TODO, TODO, TODO, TODO], 0),
        # published, bidding open: 发布 done, "now" before the deadline
        (
            TenderState.PUBLISHED,
            LotState.BIDDING,
            True,
            LotFacts(),
            T0 + dt.timedelta(days=1),
            [D, TODO, TODO, TODO, TODO],
            1,
        ),
        # the deadline passed, the sweep not yet run: the deadline's step is done
        (TenderState.PUBLISHED, LotState.BIDDING, True, LotFacts(), DEADLINE, [D, D, TODO, TODO, TODO], 2),
        # the opening runs
        (TenderState.BIDDING_CLOSED, LotState.OPENING, True, LotFacts(), DEADLINE, [D, C, TODO, TODO, TODO], 2),
        # the committee works
        (
            TenderState.BIDDING_CLOSED,
            LotState.EVALUATING,
            True,
            LotFacts(evaluation_at=DEADLINE + dt.timedelta(hours=1)),
            DEADLINE + dt.timedelta(hours=2),
            [D, D, C, TODO, TODO],
            3,
        ),
        # the candidates are publicised
        (
            TenderState.BIDDING_CLOSED,
            LotState.PUBLICITY,
            True,
            LotFacts(
                evaluation_at=DEADLINE,
                publicity_at=DEADLINE + dt.timedelta(days=1),
                publicity_ends_at=DEADLINE + dt.timedelta(days=4),
            ),
            DEADLINE + dt.timedelta(days=2),
            [D, D, D, C, TODO],
            4,
        ),
        # awarded: every step done, "now" after the last
        (
            TenderState.BIDDING_CLOSED,
            LotState.AWARDED,
            True,
            LotFacts(DEADLINE, DEADLINE, DEADLINE, DEADLINE + dt.timedelta(days=5)),
            DEADLINE + dt.timedelta(days=9),
            [D, D, D, D, D],
            5,
        ),
    ],
)
def test_steps_follow_the_lot_through_its_life(
    status: TenderState,
    lot_status: LotState,
    issued: bool,
    facts: LotFacts,
    now: dt.datetime,
    expected: list[StepState],
    marker: int,
) -> None:
    tender, lot = tender_and_lot(status, lot_status, issued)
    steps = lot_steps(tender, lot, facts, now, opening_minutes=60)
    assert [s.name for s in steps] == list(STEP_NAMES)
    assert [s.state for s in steps] == expected
    assert now_index(steps) == marker


def test_times_are_actual_once_begun_and_planned_before() -> None:
    tender, lot = tender_and_lot()
    steps = lot_steps(tender, lot, LotFacts(), T0 + dt.timedelta(days=1), opening_minutes=90)
    assert steps[0].at == T0 and steps[0].tag == "已完成"
    assert steps[1].at == DEADLINE and steps[1].tag == "计划"
    assert steps[2].at == DEADLINE + dt.timedelta(minutes=90) and steps[2].tag == "预计"
    assert steps[3].at is None and steps[3].note == "评标结束后"
    assert steps[4].at is None and steps[4].note == "公示期满后"
    draft, lot = tender_and_lot(TenderState.SUBMITTED, issued=False)
    assert lot_steps(draft, lot, LotFacts(), T0)[0].note == "待交易中心审核发布"
    suspended, lot = tender_and_lot(TenderState.SUSPENDED)
    assert lot_steps(suspended, lot, LotFacts(), T0)[1].tag == "暂停"


def test_a_failed_lot_ends_where_it_failed() -> None:
    tender, lot = tender_and_lot(TenderState.BIDDING_CLOSED, LotState.FAILED)
    at_opening = lot_steps(tender, lot, LotFacts(failed_at=DEADLINE), DEADLINE)
    assert states(at_opening) == [
        ("发布", D),
        ("投标截止/开标", D),
        ("流标", END),
        ("评标", SKIP),
        ("公示", SKIP),
        ("定标", SKIP),
    ]
    assert at_opening[2].at == DEADLINE and now_index(at_opening) == 3
    in_evaluation = lot_steps(tender, lot, LotFacts(evaluation_at=DEADLINE), DEADLINE + dt.timedelta(days=1))
    assert [s.name for s in in_evaluation] == ["发布", "投标截止/开标", "评标", "流标", "公示", "定标"]
    assert in_evaluation[3].note == "见公告"  # the announcement's time was not found


def test_a_terminated_tender_ends_before_the_deadline() -> None:
    tender, lot = tender_and_lot(TenderState.TERMINATED, LotState.TERMINATED)
    steps = lot_steps(tender, lot, LotFacts(), T0 + dt.timedelta(days=3))
    assert states(steps)[:3] == [("发布", D), ("终止", END), ("投标截止/开标", SKIP)]
    assert steps[1].at == tender.updated_at
    never, lot = tender_and_lot(TenderState.TERMINATED, LotState.TERMINATED, issued=False)
    assert states(lot_steps(never, lot, LotFacts(), T0))[:2] == [("终止", END), ("发布", SKIP)]


def test_the_drawing_escapes_user_text_and_fits_a_phone() -> None:
    tender, lot = tender_and_lot()
    steps = lot_steps(tender, lot, LotFacts(), T0 + dt.timedelta(days=1))
    svg = str(draw(steps, T0 + dt.timedelta(days=1), '标段 <script>alert("x")</script> & "引号"'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "&amp;" in svg and "&#34;" in svg
    assert svg.startswith('<svg class="timeline" role="img"')
    assert 'width="100%"' in svg and re.search(r'viewBox="0 0 360 \d+"', svg)
    # "now" in Beijing time, drawn once, between 发布 and 投标截止
    assert svg.count("现在 2026-12-02 09:00") == 1
    y = {text: float(at) for at, text in re.findall(r'<text x="34" y="([\d.]+)"[^>]*>([^<]+)</text>', svg)}
    assert y["发布"] < y["现在 2026-12-02 09:00"] < y["投标截止/开标"]
    assert "2026-12-22 09:00" in svg  # the planned deadline, Beijing time
    plain = str(draw(steps, T0, "闽江大桥 项目进度"))
    assert not re.search(r"[A-Za-z]{2,}", re.sub(r"<[^>]*>", "", plain))  # no English words to read
