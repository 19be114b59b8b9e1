"""The deposit ledger (竞买保证金): its moves allowed and refused, one ledger line and one audit
event per move, refunds only when they are due, the winner's converted, the refunds due with their
limit."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, AuditEvent
from tests.factories import make_user
from tests.trading.auctions.helpers_buyers import approved_buyers, make_lot
from trading.accounts.models import Role
from trading.auctions import deposits, registrations
from trading.auctions.lifecycle import move_auction
from trading.auctions.models import AuctionState, DepositEntry, DepositKind, DepositState, Registration
from trading.core.errors import DomainError

D = DepositState
EVERY_MOVE = [(a, b) for a in DepositState for b in DepositState]


def counts(session: Session, reg: Registration) -> tuple[int, int]:
    lines = session.scalar(select(func.count()).where(DepositEntry.registration_id == reg.id))
    events = session.scalar(
        select(func.count()).where(
            AuditEvent.object_type == "auction_registration",
            AuditEvent.object_id == str(reg.id),
            AuditEvent.action.like("auction_deposit.%"),
        )
    )
    return int(lines or 0), int(events or 0)


def code_of(fn: object, *args: object) -> str:
    with pytest.raises(DomainError) as exc:
        fn(*args)  # type: ignore[operator]
    return exc.value.code


@pytest.mark.parametrize(("frm", "to"), EVERY_MOVE, ids=[f"{a.value}-{b.value}" for a, b in EVERY_MOVE])
def test_each_move_is_allowed_exactly_as_the_table_says(app: Flask, session: Session, frm: D, to: D) -> None:
    a = make_lot(session)
    (b,) = approved_buyers(session, app, a, 1, confirmed=False)
    reg = b.registration
    reg.deposit_state = frm  # the starting point of the move under test
    session.flush()
    before = counts(session, reg)
    if to in deposits.MOVES[frm]:
        entry = deposits.move_deposit(session, SYSTEM, reg, to, at=clock.now(), reference="R-1")
        assert reg.deposit_state is to
        assert entry.kind is deposits.MOVES[frm][to]
        assert entry.amount == a.deposit
        assert counts(session, reg) == (before[0] + 1, before[1] + 1)
    else:
        with pytest.raises(deposits.DepositMoveRefused):
            deposits.move_deposit(session, SYSTEM, reg, to, at=clock.now())
        assert reg.deposit_state is frm
        assert counts(session, reg) == before


def test_the_ledger_tells_the_whole_story_of_a_refunded_deposit(app: Flask, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    a = make_lot(session, staff=staff)
    (b,) = approved_buyers(session, app, a, 1, staff=staff, confirmed=False)
    reg = b.registration
    deposits.report_transfer(session, b.user, reg, "  ICBC-20261206-0001 ")
    assert counts(session, reg) == (1, 1)
    deposits.confirm(session, staff, reg, "到账-0001")
    assert counts(session, reg) == (2, 2)
    registrations.withdraw(session, b.user, reg)
    deposits.refund(session, staff, reg, "退款-0001")
    assert counts(session, reg) == (3, 3)
    lines = session.scalars(
        select(DepositEntry).where(DepositEntry.registration_id == reg.id).order_by(DepositEntry.id)
    )
    assert [(e.kind, e.reference, e.amount) for e in lines] == [
        (DepositKind.REPORTED, "ICBC-20261206-0001", a.deposit),
        (DepositKind.CONFIRMED, "到账-0001", a.deposit),
        (DepositKind.REFUNDED, "退款-0001", a.deposit),
    ]
    actions = session.scalars(
        select(AuditEvent.action)
        .where(AuditEvent.object_type == "auction_registration", AuditEvent.object_id == str(reg.id))
        .order_by(AuditEvent.seq)
    ).all()
    assert actions == [
        "auction_registration.apply",
        "auction_registration.approve",
        "auction_deposit.report",
        "auction_deposit.confirm",
        "auction_registration.withdraw",
        "auction_deposit.refund",
    ]


def test_references_are_bounded_one_line_text(app: Flask, session: Session) -> None:
    a = make_lot(session)
    (b,) = approved_buyers(session, app, a, 1, confirmed=False)
    reg = b.registration
    assert code_of(deposits.report_transfer, session, b.user, reg, "x" * 101) == "invalid_input"
    assert code_of(deposits.report_transfer, session, b.user, reg, "   ") == "invalid_input"
    assert code_of(deposits.report_transfer, session, b.user, reg, "A\nB") == "control_character"
    assert code_of(deposits.report_transfer, session, b.user, reg, "A\u202eB") == "control_character"
    assert counts(session, reg) == (0, 0)


def test_only_the_buyer_reports_and_only_staff_confirm_or_refund(app: Flask, session: Session) -> None:
    a = make_lot(session)
    mine, other = approved_buyers(session, app, a, 2, confirmed=False)
    supervisor = make_user(session, Role.SUPERVISOR)
    assert code_of(deposits.report_transfer, session, other.user, mine.registration, "R1") == "forbidden"
    assert code_of(deposits.confirm, session, mine.user, mine.registration, "R1") == "forbidden"
    assert code_of(deposits.confirm, session, supervisor, mine.registration, "R1") == "forbidden"
    assert code_of(deposits.refund, session, supervisor, mine.registration, "R1") == "forbidden"
    assert counts(session, mine.registration) == (0, 0)


def test_no_transfer_is_reported_after_the_deadline(app: Flask, session: Session) -> None:
    a = make_lot(session, open_for=dt.timedelta(minutes=30))
    (b,) = approved_buyers(session, app, a, 1, confirmed=False)
    with clock.frozen(clock.now() + dt.timedelta(hours=1)):
        assert code_of(deposits.report_transfer, session, b.user, b.registration, "R1") == "registration_closed"


def test_a_deposit_is_refunded_only_after_the_end_or_for_an_application_that_left(app: Flask, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    a = make_lot(session, staff=staff)
    stays, leaves = approved_buyers(session, app, a, 2, staff=staff)
    assert code_of(deposits.refund, session, staff, stays.registration, "R1") == "refund_too_early"
    registrations.withdraw(session, leaves.user, leaves.registration)
    due = deposits.refunds_due(session, a)
    assert [(d.registration.id, d.due_by, d.overdue) for d in due] == [(leaves.registration.id, None, False)]
    entry = deposits.refund(session, staff, leaves.registration, "R2")
    assert entry.due_by is None and leaves.registration.deposit_state is D.REFUNDED
    assert deposits.refunds_due(session, a) == []


def test_the_winner_converts_the_others_are_due_within_the_limit(app: Flask, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    a = make_lot(session, staff=staff)
    winner, loser, late = approved_buyers(session, app, a, 3, staff=staff)
    ended = clock.now()
    move_auction(session, SYSTEM, a, AuctionState.FREE, at=ended)
    a.leader_id, a.final_price = winner.registration.id, a.starting_price
    move_auction(session, SYSTEM, a, AuctionState.SOLD, at=ended)
    assert code_of(deposits.refund, session, staff, winner.registration, "R1") == "winner_deposit"
    due = deposits.refunds_due(session, a)
    assert {d.registration.id for d in due} == {loser.registration.id, late.registration.id}
    limit = due[0].due_by
    assert limit is not None and limit > ended + dt.timedelta(days=5)  # 5 working days (39号令 第二十二条)
    assert not any(d.overdue for d in due)

    entry = deposits.convert_winner(session, SYSTEM, winner.registration, ended)
    assert entry.kind is DepositKind.CONVERTED and entry.actor_id is None
    assert winner.registration.deposit_state is D.CONVERTED
    refunded = deposits.refund(session, staff, loser.registration, "退款-1")
    assert refunded.due_by == limit
    with clock.frozen(limit + dt.timedelta(minutes=1)):
        overdue = deposits.refunds_due(session, a)
    assert [(d.registration.id, d.overdue) for d in overdue] == [(late.registration.id, True)]
    assert code_of(deposits.refund, session, staff, loser.registration, "R3") == "deposit_transition"


def test_nothing_is_confirmed_for_an_application_that_left_or_a_lot_that_ended(app: Flask, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    a = make_lot(session, staff=staff)
    leaves, stays = approved_buyers(session, app, a, 2, staff=staff, confirmed=False)
    registrations.withdraw(session, leaves.user, leaves.registration)
    assert code_of(deposits.confirm, session, staff, leaves.registration, "R1") == "registration_closed"
    move_auction(session, SYSTEM, a, AuctionState.FAILED, at=clock.now())
    assert code_of(deposits.confirm, session, staff, stays.registration, "R1") == "auction_ended"
