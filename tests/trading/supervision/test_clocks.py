"""The clocks' sweep over the audit trail: yellow then red, red kept after a late stop (红灯追责), a
suspended lot's clocks paused (a complaint's not), the sweep twice changing nothing, a rule's new
version governing later clocks only, each rule's pairing of start and stop, and one bad event
passed over. The events are written as the stages write them (``record_event`` with the same
object and payload), so each test takes milliseconds, not a whole tender."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent, record_event
from tests.factories import lot_body, make_org, make_user, tender_body
from trading.accounts.models import OrgKind, Role, User
from trading.core.errors import Forbidden, InvalidInput, NotFound
from trading.core.schemas import parse
from trading.evaluation.models import EvalState, Evaluation, PublicityObjection
from trading.guarantees.bonds import release
from trading.guarantees.models import Guarantee, GuaranteeOrder, GuaranteeState, OrderState
from trading.procedures.operations import set_holiday
from trading.supervision import clock_colours, clock_log, rules
from trading.supervision.clocks import clock_refs_of_lot, clocks_of_lots, sweep
from trading.supervision.models import (
    Colour,
    Complaint,
    ComplaintKind,
    ComplaintState,
    StatementRequest,
    SupervisionClock,
    SupervisionRule,
)
from trading.supervision.rulebook import change_rule, ensure_seed
from trading.supervision.warnings import list_warnings, views_of_lots
from trading.tenders.drafting import create_tender
from trading.tenders.models import Lot, Notification, Tender
from trading.tenders.schemas import TenderIn

UTC = dt.UTC
MON = dt.datetime(2026, 9, 14, 2, 0, tzinfo=UTC)  # Monday 2026-09-14 10:00 Beijing


def end_of(day: str) -> dt.datetime:
    """24:00 Beijing of ``day``, in UTC."""
    return dt.datetime.fromisoformat(day + "T16:00:00+00:00")


@dataclass
class World:
    tender: Tender
    lots: list[Lot]
    tenderee: User
    supervisor: User
    staff: User
    bidder: User

    @property
    def lot(self) -> Lot:
        return self.lots[0]


@pytest.fixture
def moment() -> Iterator[clock.FrozenClock]:
    with clock.frozen(MON) as m:
        yield m


@pytest.fixture
def world(session: Session, moment: clock.FrozenClock) -> World:
    tenderee = make_user(session, Role.TENDEREE)
    body = tender_body(deadline=MON + dt.timedelta(days=30), lots=[lot_body(), lot_body(name="二标段：安装")])
    tender = create_tender(session, tenderee, parse(TenderIn, body))
    set_holiday(session, SYSTEM, dt.date(2026, 9, 27), True, "国庆节调休")
    for d in range(1, 8):
        set_holiday(session, SYSTEM, dt.date(2026, 10, d), False, "国庆节")
    ensure_seed(session, SYSTEM)
    w = World(
        tender,
        list(tender.lots),
        tenderee,
        make_user(session, Role.SUPERVISOR),
        make_user(session, Role.STAFF),
        make_user(session, Role.BIDDER),
    )
    session.commit()
    return w


def clocks_of(session: Session, rule: str) -> list[SupervisionClock]:
    q = select(SupervisionClock).where(SupervisionClock.rule_code == rule).order_by(SupervisionClock.id)
    return list(session.scalars(q.execution_options(populate_existing=True)))


def actions_since(session: Session, seq: int, *actions: str) -> list[AuditEvent]:
    q = select(AuditEvent).where(AuditEvent.seq > seq, AuditEvent.action.in_(actions)).order_by(AuditEvent.seq)
    return list(session.scalars(q))


def head(session: Session) -> int:
    return session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0


def notices(session: Session, org_id: int, text: str) -> list[str]:
    q = select(Notification.message).where(Notification.org_id == org_id, Notification.message.contains(text))
    return list(session.scalars(q))


def lot_event(session: Session, action: str, lot: Lot, **payload: Any) -> int:
    seq = record_event(session, SYSTEM, action, lot, payload)
    session.commit()
    return seq


def test_yellow_then_red_and_red_stays_after_a_late_award(
    session: Session, world: World, moment: clock.FrozenClock
) -> None:
    lot_event(session, "lot.publicise", world.lot, **{"from": "evaluating", "to": "publicity"})
    assert sweep(session, clock.now()) == 1
    (c,) = clocks_of(session, "award_after_publicity")
    # 10 working days from Mon 9-14: the 10th is the 调休 Sunday 9-27; yellow 2 before: Thu 9-24
    assert (c.due_at, c.yellow_at) == (end_of("2026-09-27"), end_of("2026-09-24"))
    assert (c.colour, c.next_check_at, c.lot_id, c.tender_id) == (
        Colour.GREEN,
        c.yellow_at,
        world.lot.id,
        world.tender.id,
    )

    moment.set(end_of("2026-09-24") - dt.timedelta(seconds=1))
    seq = head(session)
    assert sweep(session, clock.now()) == 0
    moment.set(end_of("2026-09-24"))
    assert sweep(session, clock.now()) == 1
    (yellow,) = actions_since(session, seq, "supervision_clock.yellow")
    assert (yellow.object_type, yellow.object_id) == ("supervision_clock", str(c.id))
    for org in (world.tenderee.organisation_id, world.supervisor.organisation_id):
        assert org is not None and notices(session, org, "【黄灯预警】")
    assert world.staff.organisation_id is not None
    assert not notices(session, world.staff.organisation_id, "黄灯")  # the rule does not name the center

    # the sweep twice: nothing new, not even an audit event
    seq = head(session)
    assert sweep(session, clock.now()) == 0
    assert head(session) == seq

    moment.set(end_of("2026-09-27"))
    assert sweep(session, clock.now()) == 1
    assert [e.action for e in actions_since(session, seq, "supervision_clock.yellow", "supervision_clock.red")] == [
        "supervision_clock.red"
    ]
    (c,) = clocks_of(session, "award_after_publicity")
    assert (c.colour, c.worst, c.next_check_at) == (Colour.RED, Colour.RED, None)

    moment.advance(days=2)
    lot_event(session, "lot.award", world.lot, **{"from": "publicity", "to": "awarded"})
    seq = head(session)
    assert sweep(session, clock.now()) >= 3  # stopped, and the contract's and the archive's clocks start
    (late,) = actions_since(session, seq, "supervision_clock.late")
    assert late.object_id == str(c.id) and '"late_seconds":172800' in late.payload
    (c,) = clocks_of(session, "award_after_publicity")
    assert (c.colour, c.worst, c.stopped_at) == (Colour.RED, Colour.RED, clock.now())
    assert world.supervisor.organisation_id is not None
    assert notices(session, world.supervisor.organisation_id, "【红灯追责】")
    # red stays on the record: the warnings list it, done
    page = list_warnings(session, clock.now(), colour=Colour.RED)
    assert [(v.id, v.colour, v.late, v.running) for v in page.items] == [(c.id, Colour.RED, True, False)]
    assert {x.rule_code for x in clocks_of_lots(session, [world.lot.id])} == {
        "award_after_publicity",
        "contract",
        "archive_package",
    }
    refs = clock_refs_of_lot(session, world.lot.id)
    assert ("supervision_clock", str(c.id)) in refs and ("supervision_rule", str(c.rule_id)) in refs


def test_a_suspended_lot_pauses_its_clocks_and_not_a_complaints(
    session: Session, world: World, moment: clock.FrozenClock
) -> None:
    lot_event(session, "lot.award", world.lot, **{"from": "publicity", "to": "awarded"})
    complaint = make_complaint(session, world, ComplaintKind.CONSTRUCTION)
    record_event(session, world.bidder, "complaint.file", complaint, {"kind": "construction", "lot": world.lot.id})
    session.commit()
    sweep(session, clock.now())
    (contract,) = clocks_of(session, "contract")
    assert contract.due_at == end_of("2026-10-14")  # 30 days: Wed 10-14
    accept = clocks_of(session, "complaint_accept_construction")[0]
    assert accept.complaint_id == complaint.id and accept.lot_id == world.lot.id

    moment.advance(days=1)
    lot_event(session, "lot.suspend", world.lot, reason="投诉处理", complaint=complaint.number)
    sweep(session, clock.now())
    contract, accept = clocks_of(session, "contract")[0], clocks_of(session, "complaint_accept_construction")[0]
    assert contract.paused_since == clock.now() and contract.next_check_at is None
    assert accept.paused_since is None and accept.next_check_at is not None  # a complaint's limit runs on

    # a clock that starts while the lot is suspended starts paused
    lot_event(session, "lot.publicise", world.lots[0], **{"from": "evaluating", "to": "publicity"})
    sweep(session, clock.now())
    assert clocks_of(session, "award_after_publicity")[0].paused_since == clock.now()

    moment.advance(days=40)  # far past the contract's limit, but standing still
    assert views_of_lots(session, [world.lot.id], clock.now())[0].colour is Colour.GREEN
    lot_event(session, "lot.resume", world.lot, since=(clock.now() - dt.timedelta(days=40)).isoformat())
    sweep(session, clock.now())
    (contract,) = clocks_of(session, "contract")
    assert contract.paused_since is None and contract.paused_seconds == 40 * 86400
    assert contract.due_at == end_of("2026-10-14") + dt.timedelta(days=40)
    assert contract.colour is Colour.GREEN
    accept = clocks_of(session, "complaint_accept_construction")[0]
    assert accept.colour is Colour.RED  # 3 working days long gone


def test_a_new_rule_version_governs_clocks_started_after_it_only(
    session: Session, world: World, moment: clock.FrozenClock
) -> None:
    record_event(session, world.tenderee, "tender.submit", world.tender, {"from": "draft", "to": "submitted"})
    session.commit()
    sweep(session, clock.now())
    moment.advance(hours=1)
    with pytest.raises(Forbidden):
        change_rule(session, world.staff, "staff_review", {"limit_value": 5}, "本地规定为五个工作日")
    with pytest.raises(InvalidInput) as bad:
        change_rule(
            session, world.supervisor, "staff_review", {"limit_value": 2, "yellow_value": 3}, "提前量过大的修改"
        )
    assert bad.value.code == "bad_limit"
    with pytest.raises(InvalidInput) as same:
        change_rule(session, world.supervisor, "staff_review", {"limit_value": 3}, "与现行版本相同")
    assert same.value.code == "rule_unchanged"
    with pytest.raises(NotFound):
        change_rule(session, world.supervisor, "no_such_rule", {"limit_value": 3}, "没有这条规则")
    seq = head(session)
    v2 = change_rule(
        session, world.supervisor, "staff_review", {"limit_value": 5, "warned": ["center"]}, "本地规定为五个工作日"
    )
    session.commit()
    assert v2.version == 2 and v2.effective_from == clock.now()
    (change,) = actions_since(session, seq, "supervision_rule.change")
    assert '"limit_value":[3,5]' in change.payload and "本地规定" in change.payload

    record_event(session, world.staff, "tender.return", world.tender, {"reason": "补充资格条件"})
    moment.advance(hours=1)
    record_event(session, world.tenderee, "tender.submit", world.tender, {"from": "draft", "to": "submitted"})
    session.commit()
    sweep(session, clock.now())
    first, second = clocks_of(session, "staff_review")
    assert first.stopped_seq is not None and first.due_at == end_of("2026-09-17")  # version 1: 3 working days
    assert second.stopped_seq is None and second.due_at == end_of("2026-09-21")  # version 2: 5
    rules = session.scalars(select(SupervisionRule).where(SupervisionRule.code == "staff_review")).all()
    assert {r.id: r.version for r in rules}[first.rule_id] == 1
    assert {r.id: r.version for r in rules}[second.rule_id] == 2
    assert ensure_seed(session, SYSTEM) == 0  # seeded once


def test_each_rule_pairs_its_own_start_and_stop(session: Session, world: World, moment: clock.FrozenClock) -> None:
    lot = world.lot
    ev = Evaluation(lot_id=lot.id, state=EvalState.REPORTED, z_limit=2.0, candidates=1, history=[], opened_at=MON)
    session.add(ev)
    session.flush()
    assert world.bidder.organisation_id is not None
    objection = PublicityObjection(
        evaluation_id=ev.id,
        org_id=world.bidder.organisation_id,
        user_id=world.bidder.id,
        text="第一中标候选人业绩不符合要求。",
        created_at=MON,
        answer_due=MON + dt.timedelta(days=3),
    )
    session.add(objection)
    session.flush()
    record_event(session, SYSTEM, "evaluation.stage", ev, {"from": "signing", "to": "reported"})
    record_event(session, SYSTEM, "evaluation.stage", ev, {"from": "reported", "to": "scoring"})  # sent back
    record_event(session, SYSTEM, "evaluation.stage", ev, {"from": "signing", "to": "reported"})
    record_event(session, SYSTEM, "lot.publicise", lot, {"from": "evaluating", "to": "publicity"})
    record_event(session, world.bidder, "evaluation.objection", objection, {"evaluation": ev.id})
    record_event(session, world.tenderee, "evaluation.objection_answer", objection, {"evaluation": ev.id})
    record_event(session, world.tenderee, "lot.award", lot, {"from": "publicity", "to": "awarded"})
    record_event(session, world.tenderee, "evaluation.contract", ev, {"lot": lot.id, "winner": 1})
    record_event(session, SYSTEM, "archive.build", ("archive_package", "77"), {"tender": world.tender.code, "lot": 1})
    # the second lot ends without an opening room: no package is built for it, so no clock
    record_event(session, SYSTEM, "lot.terminate", world.lots[1], {"from": "bidding", "to": "terminated"})
    session.commit()
    sweep(session, clock.now())
    by_rule: dict[str, list[SupervisionClock]] = {}
    for c in session.scalars(select(SupervisionClock).order_by(SupervisionClock.id)):
        by_rule.setdefault(c.rule_code, []).append(c)
    assert sorted(by_rule) == [
        "archive_package",
        "award_after_publicity",
        "contract",
        "objection_answer",
        "publicity_start",
    ]  # no bond clock: the lot holds no guarantee
    assert len(by_rule["publicity_start"]) == 2  # the report sent back ended the first
    assert all(c.stopped_seq is not None for cs in by_rule.values() for c in cs)
    assert all(c.worst is Colour.GREEN for cs in by_rule.values() for c in cs)
    assert {c.lot_id for cs in by_rule.values() for c in cs} == {lot.id}
    (o,) = by_rule["objection_answer"]
    assert o.subject_key == f"evaluation_objection:{objection.id}"
    assert o.due_at == end_of("2026-09-17")  # 3 days: Thu 24:00


def test_the_bond_clock_runs_from_the_contract_until_the_last_guarantee_is_released(
    session: Session, world: World, moment: clock.FrozenClock
) -> None:
    lot = world.lot
    issuer = make_org(session, OrgKind.ISSUER)
    loser, winner = (guarantee(session, world, issuer.id, n) for n in (1, 2))
    ev = Evaluation(lot_id=lot.id, state=EvalState.AWARDED, z_limit=2.0, candidates=1, history=[], opened_at=MON)
    session.add(ev)
    session.flush()
    record_event(session, world.tenderee, "lot.award", lot, {"from": "publicity", "to": "awarded"})
    release(session, loser, "已定标，未中标人的保函释放")
    moment.advance(days=2)
    record_event(session, world.tenderee, "evaluation.contract", ev, {"lot": lot.id, "winner": 1})
    session.commit()
    sweep(session, clock.now())
    (bond,) = clocks_of(session, "bond_release")
    assert bond.stopped_seq is None and bond.due_at == end_of("2026-09-21")  # 5 days from Wed 9-16
    moment.advance(days=6)
    release(session, winner, "中标人已签订合同，保函释放")
    session.commit()
    sweep(session, clock.now())
    (bond,) = clocks_of(session, "bond_release")
    assert bond.stopped_seq is not None and bond.colour is Colour.RED and bond.worst is Colour.RED


def test_complaint_clocks_and_the_statement_ended_with_the_complaint(
    session: Session, world: World, moment: clock.FrozenClock
) -> None:
    complaint = make_complaint(session, world, ComplaintKind.PROCUREMENT)
    asked = make_org(session, OrgKind.AGENCY)
    record_event(session, world.bidder, "complaint.file", complaint, {"kind": "procurement"})
    moment.advance(hours=2)
    record_event(session, world.supervisor, "complaint.accept", complaint, {"kind": "procurement"})
    request = StatementRequest(
        complaint_id=complaint.id,
        org_id=asked.id,
        question="请说明评审过程。",
        asked_at=clock.now(),
        due_at=clock.now() + dt.timedelta(days=7),
    )
    session.add(request)
    session.flush()
    record_event(session, world.supervisor, "complaint.ask", request, {"complaint": complaint.id})
    session.commit()
    sweep(session, clock.now())
    accept, decide = (
        clocks_of(session, "complaint_accept_procurement"),
        clocks_of(session, "complaint_decide_procurement"),
    )
    assert accept[0].stopped_seq is not None and decide[0].stopped_seq is None
    assert decide[0].due_at == end_of("2026-10-30")  # 30 working days from the filing (第二十六条), over the holiday
    (stmt,) = clocks_of(session, "complaint_statement")
    assert stmt.complaint_id == complaint.id and stmt.due_at == end_of("2026-09-21")
    moment.set(end_of("2026-09-20"))  # yellow: 1 working day before (Fri 9-18 24:00); told to the asked party
    sweep(session, clock.now())
    assert notices(session, asked.id, "【黄灯预警】")
    assert world.bidder.organisation_id is not None
    assert not notices(session, world.bidder.organisation_id, "黄灯")  # the statement's rule names the asked party
    record_event(session, world.bidder, "complaint.withdraw", complaint, {"kind": "procurement"})
    session.commit()
    sweep(session, clock.now())
    (stmt,) = clocks_of(session, "complaint_statement")
    assert stmt.stopped_seq is not None  # the complaint withdrawn ends the statement's clock too
    assert clocks_of(session, "complaint_decide_procurement")[0].stopped_seq is not None


def test_one_bad_event_is_recorded_and_passed_over(
    session: Session, world: World, moment: clock.FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = rules.due_instant
    bad_at = MON + dt.timedelta(seconds=1)

    def due_or_fail(start: dt.datetime, rule: Any, overrides: Any) -> dt.datetime:
        if start == bad_at:
            raise decimal.InvalidOperation("unreadable")
        return real(start, rule, overrides)

    monkeypatch.setattr(clock_log, "due_instant", due_or_fail)
    lot_event(session, "lot.publicise", world.lots[0], **{"from": "evaluating", "to": "publicity"})
    moment.set(bad_at)
    bad = lot_event(session, "lot.publicise", world.lots[1], **{"from": "evaluating", "to": "publicity"})
    seq = head(session)
    assert sweep(session, clock.now()) == 1
    assert [c.lot_id for c in clocks_of(session, "award_after_publicity")] == [world.lots[0].id]
    (failed,) = actions_since(session, seq, "supervision_clock.event_failed")
    assert failed.object_id == str(bad) and "InvalidOperation" in failed.payload
    assert sweep(session, clock.now()) == 0  # passed over for good: the cursor is past it


# ---------------------------------------------------------------- builders
_numbers = iter(range(1, 10_000))


def make_complaint(session: Session, world: World, kind: ComplaintKind) -> Complaint:
    assert world.bidder.organisation_id is not None
    c = Complaint(
        number=f"TS-2026-{next(_numbers):06d}",
        kind=kind,
        matter="evaluation_result",
        tender_id=world.tender.id,
        lot_id=world.lot.id,
        complainant_org_id=world.bidder.organisation_id,
        complainant_user_id=world.bidder.id,
        grounds="评标结果不公正。",
        requests="重新评标。",
        statement="{}",
        state=ComplaintState.FILED,
        filed_at=clock.now(),
    )
    session.add(c)
    session.flush()
    return c


def guarantee(session: Session, world: World, issuer_id: int, n: int) -> Guarantee:
    org = make_org(session)
    order = GuaranteeOrder(
        tender_id=world.tender.id,
        lot_id=world.lot.id,
        org_id=org.id,
        user_id=world.bidder.id,
        issuer_org_id=issuer_id,
        state=OrderState.ISSUED,
        amount=decimal.Decimal("200000.00"),
        valid_until=dt.date(2027, 1, 1),
        created_at=MON,
    )
    session.add(order)
    session.flush()
    g = Guarantee(
        order_id=order.id,
        issuer_org_id=issuer_id,
        lot_id=world.lot.id,
        org_id=org.id,
        number=f"BH-{n}",
        amount=decimal.Decimal("200000.00"),
        starts_on=dt.date(2026, 9, 1),
        ends_on=dt.date(2027, 1, 1),
        verification_code="x",
        document_name="保函.pdf",
        document_sm3="0" * 64,
        content="{}",
        signature="x",
        signer_cert="x",
        state=GuaranteeState.VALID,
        verified_at=MON,
    )
    session.add(g)
    session.flush()
    return g


def test_one_clock_that_cannot_be_recoloured_holds_up_no_other(
    session: Session, world: World, moment: clock.FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for lot in world.lots:
        lot_event(session, "lot.publicise", lot, **{"from": "evaluating", "to": "publicity"})
    sweep(session, clock.now())
    good, bad = clocks_of(session, "award_after_publicity")
    real = clock_colours.warn

    def warn_or_fail(ctx: Any, c: SupervisionClock, rule: Any, what: str) -> None:
        if c.id == bad.id:
            raise ValueError("unreadable")
        real(ctx, c, rule, what)

    monkeypatch.setattr(clock_colours, "warn", warn_or_fail)
    moment.set(good.yellow_at)
    seq = head(session)
    assert sweep(session, clock.now()) == 1
    good, bad = clocks_of(session, "award_after_publicity")
    assert (good.colour, bad.colour) == (Colour.YELLOW, Colour.GREEN)
    (failed,) = actions_since(session, seq, "supervision_clock.recolour_failed")
    assert failed.object_id == str(bad.id) and '"failures":1' in failed.payload
    monkeypatch.setattr(clock_colours, "warn", real)
    moment.advance(minutes=5)  # past the retry's pause
    assert sweep(session, clock.now()) == 1
    assert clocks_of(session, "award_after_publicity")[1].colour is Colour.YELLOW
