"""The draw (抽取) as operations: staff commit a draw (snapshot and seed commitment published, in a
signed checkpoint, before anything is drawn), then run it (seed revealed, the selection
re-computable by anyone holding the snapshot: ``draw``'s plain functions); experts confirm or
decline; a decline (or a recusal in the room) is replaced by a new round drawn the same way. Names
stay with the experts themselves: staff see slots and states, never who was drawn (until the
evaluation starts).
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import SYSTEM, record_event
from archive.db import locked
from archive.objectstore import ObjectStore
from archive.transparency import request_checkpoint
from signing.digest import sm3_hex
from trading.accounts.models import Organisation, User
from trading.accounts.regions import region_name
from trading.core.errors import Conflict, InvalidInput, NotFound
from trading.core.platform_keys import unwrap_secret, wrap_secret
from trading.evaluation import draw as rules
from trading.evaluation.experts import my_expert, pool, require_staff
from trading.evaluation.models import (
    Draw,
    DrawMember,
    DrawState,
    EvalState,
    Evaluation,
    MemberState,
    Seat,
)
from trading.opening.models import Ceremony, CeremonyBidder
from trading.procedures.specialties import specialty_name
from trading.tenders.models import Lot, LotState, Tender


def _lot_parties(session: Session, lot: Lot) -> tuple[Tender, str, tuple[str, ...]]:
    tender = session.get(Tender, lot.tender_id)
    assert tender is not None
    tenderee = session.get(Organisation, tender.tenderee_org_id)
    assert tenderee is not None
    bidders = session.scalars(
        select(Organisation.credit_code)
        .join(CeremonyBidder, CeremonyBidder.org_id == Organisation.id)
        .join(Ceremony, Ceremony.id == CeremonyBidder.ceremony_id)
        .where(Ceremony.lot_id == lot.id)
    ).all()
    return tender, tenderee.credit_code, tuple(sorted(bidders))


def _published_committee(lot: Lot) -> dict[str, int]:
    """Experts per specialty, as the tender published them."""
    wanted: dict[str, int] = {}
    for s in lot.specialties:
        wanted[s["code"]] = wanted.get(s["code"], 0) + int(s["count"])
    return wanted


def venue_slots(lot: Lot, sub_venues: Sequence[rules.Slot] = ()) -> list[rules.Slot]:
    """The lot's committee with ``sub_venues`` seats placed in other regions (副场, 跨区域远程异地评标)
    and the rest of each specialty at the lot's own region (主场)."""
    left = _published_committee(lot)
    for s in sub_venues:
        if s.region == lot.region:
            raise InvalidInput(f"副场应在主场（{region_name(lot.region)}）以外的地区", fields={"slots": "地区"})
        if s.count < 1 or left.get(s.specialty, 0) < s.count:
            raise InvalidInput(
                f"副场的{specialty_name(s.specialty)}专业席位超过招标文件规定的人数", fields={"slots": "人数"}
            )
        left[s.specialty] -= s.count
    return [rules.Slot(lot.region, code, n) for code, n in left.items() if n] + list(sub_venues)


def draws_of(session: Session, lot: Lot) -> list[Draw]:
    return list(session.scalars(select(Draw).where(Draw.lot_id == lot.id).order_by(Draw.round)))


def composition_error(lot: Lot, slots: list[rules.Slot]) -> str | None:
    """Why ``slots`` are not the lot's published committee (None when they are): the tender fixes
    how many experts of each specialty sit (Law 37, checked when the lot was made); staff only
    choose where they sit, at the main venue or a sub-venue (跨区域远程异地评标)."""
    if any(not 1 <= s.count <= 51 for s in slots):
        return "每个抽取位的人数应为 1–51"
    wanted = _published_committee(lot)
    drawn: dict[str, int] = {}
    for s in slots:
        drawn[s.specialty] = drawn.get(s.specialty, 0) + s.count
    if drawn != wanted:
        asked = "、".join(f"{specialty_name(code)} {n} 名" for code, n in sorted(wanted.items()))
        return f"抽取的专业和人数应与招标文件规定的评标委员会组成一致（{asked}），只能调整主场与副场的分配"
    return None


def commit_draw(
    session: Session,
    staff: User,
    store: ObjectStore,
    lot: Lot,
    slots: list[rules.Slot] | None = None,
    *,
    kek: bytes,
) -> Draw:
    """The first round: the lot's whole committee, by default at the lot's region; ``slots`` may
    place seats at sub-venues but never change how many experts of which specialty sit. Later
    rounds only replace freed seats (``replace_declined``)."""
    require_staff(staff)
    refusal = commit_refusal(session, lot)
    if refusal is not None:
        raise refusal
    slots = slots or venue_slots(lot)
    if (why := composition_error(lot, slots)) is not None:
        raise InvalidInput(why, fields={"slots": why})
    return _commit_round(session, staff, store, lot, slots, kek)


def commit_refusal(session: Session, lot: Lot) -> Conflict | None:
    """Why the first round cannot be committed now (None: it can); the draw page shows it."""
    if draws_of(session, lot):
        return Conflict("首轮已抽取；空出的席位请补抽", code="already_drawn")
    return round_refusal(session, lot)


def round_refusal(session: Session, lot: Lot) -> Conflict | None:
    """Why no round can be committed now: the opening is not over, or a round waits to be drawn."""
    if lot.status is not LotState.EVALUATING:
        return Conflict("开标结束后才能抽取本标段的评标专家", code="wrong_state")
    if any(d.state is DrawState.COMMITTED for d in draws_of(session, lot)):
        return Conflict("上一轮抽取尚未进行", code="draw_pending")
    return None


def _commit_round(
    session: Session, staff: User, store: ObjectStore, lot: Lot, slots: list[rules.Slot], kek: bytes
) -> Draw:
    """Publish the inputs before drawing: the snapshot's SM3 and the seed's SM3, in the trace and in
    the next signed checkpoint. The seed itself stays secret until ``run_draw``: the row holds it
    wrapped with the platform's key-encryption key, which the database does not hold (whoever
    reads the database could otherwise compute the committee before the draw)."""
    refusal = round_refusal(session, lot)
    if refusal is not None:
        raise refusal
    earlier = draws_of(session, lot)
    drawn_before = session.scalars(
        select(DrawMember.expert_id).join(Draw, Draw.id == DrawMember.draw_id).where(Draw.lot_id == lot.id)
    ).all()
    tender, tenderee, bidders = _lot_parties(session, lot)
    r = rules.Rules(
        tenderee=tenderee,
        bidders=bidders,
        on=clock.local(clock.now()).date(),
        slots=tuple(slots),
        exclude=tuple(sorted(set(drawn_before))),
    )
    snapshot = rules.snapshot_bytes(pool(session), r)
    obj = store.put_bytes(snapshot)
    seed = secrets.token_bytes(32)
    d = Draw(
        lot_id=lot.id,
        round=len(earlier) + 1,
        state=DrawState.COMMITTED,
        snapshot_key=obj.key,
        snapshot_sm3=sm3_hex(snapshot),
        seed=wrap_secret(kek, seed, _seed_purpose(sm3_hex(seed))),
        seed_sm3=sm3_hex(seed),
        created_at=clock.now(),
    )
    session.add(d)
    session.flush()
    record_event(
        session,
        staff,
        "draw.commit",
        d,
        {
            "tender": tender.code,
            "lot": lot.number,
            "round": d.round,
            "snapshot_sm3": d.snapshot_sm3,
            "seed_sm3": d.seed_sm3,
        },
    )
    request_checkpoint(session, "draw_commit", f"draw:{d.id}")
    return d


def _seed_purpose(seed_sm3: str) -> str:
    return f"draw-seed:{seed_sm3}"  # bound to the published commitment: a wrapped seed cannot change rows


def run_draw(session: Session, staff: User, store: ObjectStore, d: Draw, *, kek: bytes) -> list[DrawMember]:
    require_staff(staff)
    if d.state is not DrawState.COMMITTED:
        raise Conflict("本轮已经抽取", code="wrong_state")
    seed = unwrap_secret(kek, d.seed, _seed_purpose(d.seed_sm3))
    candidates, r = rules.parse_snapshot(store.read_bytes(d.snapshot_key))
    try:
        result = rules.draw(candidates, r, seed)
    except rules.NotEnoughExperts as exc:
        slot = f"{region_name(exc.slot.region)}{specialty_name(exc.slot.specialty)}专业"
        raise Conflict(
            f"{slot}可抽专家 {exc.found} 人，不足 {exc.slot.count} 人，请调整抽取条件或扩大地区后重新抽取",
            code="not_enough_experts",
        ) from None
    d.result = [[slot, x] for slot, x in result]
    d.seed = seed  # published from now on (draw.run, the API, ggzy draw verify)
    d.state, d.drawn_at = DrawState.DRAWN, clock.now()
    members = [DrawMember(draw_id=d.id, expert_id=x, slot=slot, state=MemberState.INVITED) for slot, x in result]
    session.add_all(members)
    session.flush()
    record_event(session, staff, "draw.run", d, {"seed": d.seed.hex(), "result": d.result})
    return members


def my_invitations(session: Session, user: User) -> list[tuple[DrawMember, Draw]]:
    e = my_expert(session, user)
    q = select(DrawMember, Draw).join(Draw, Draw.id == DrawMember.draw_id).where(DrawMember.expert_id == e.id)
    return [(m, d) for m, d in session.execute(q.order_by(DrawMember.id.desc()))]


def respond(session: Session, user: User, member_id: int, accept: bool, reason: str = "") -> DrawMember:
    e = my_expert(session, user)
    m = session.scalar(locked(select(DrawMember).where(DrawMember.id == member_id)))
    if m is None or m.expert_id != e.id:
        raise NotFound("邀请不存在")
    if m.state is not MemberState.INVITED:
        raise Conflict(f"邀请{m.state.label}，不能再答复", code="wrong_state")
    reason = (reason or "").strip()
    if not accept and not 2 <= len(reason) <= 300:
        raise InvalidInput("请说明不能参加的原因（2–300 字）", fields={"reason": "2–300 字"})
    m.state = MemberState.CONFIRMED if accept else MemberState.DECLINED
    m.answered_at, m.reason = clock.now(), reason or None
    record_event(session, user, f"draw.{m.state.value}", m, {"draw": m.draw_id, "slot": m.slot})
    if accept:
        _seat_in_open_room(session, m)
    return m


def _seat_in_open_room(session: Session, m: DrawMember) -> None:
    """A replacement who confirmed joins the lot's room if it is open and still signing in (the
    room is opened with the confirmed members; a later one takes its seat here)."""
    d = session.get(Draw, m.draw_id)
    assert d is not None
    ev = session.scalar(select(Evaluation).where(Evaluation.lot_id == d.lot_id))
    if ev is None:
        return
    if ev.state is not EvalState.SIGN_IN:
        raise Conflict("评标已经开始，不能再加入评标委员会", code="wrong_state")
    seat = Seat(evaluation_id=ev.id, expert_id=m.expert_id, member_id=m.id)
    session.add(seat)
    session.flush()
    record_event(session, SYSTEM, "evaluation.seat", seat, {"evaluation": ev.id, "expert": m.expert_id})


def freed_seats(session: Session, lot: Lot) -> list[DrawMember]:
    """The seats freed (declined, or recused in the room) and not yet refilled."""
    return list(
        session.scalars(
            select(DrawMember)
            .join(Draw, Draw.id == DrawMember.draw_id)
            .where(
                Draw.lot_id == lot.id,
                DrawMember.state.in_([MemberState.DECLINED, MemberState.RECUSED]),
                DrawMember.replaced_by.is_(None),
            )
            .order_by(DrawMember.id)
        )
    )


def replace_refusal(session: Session, lot: Lot) -> Conflict | None:
    """Why no replacement round can be committed now (None: it can); the draw page shows it."""
    if not draws_of(session, lot):
        return Conflict("本标段尚未抽取", code="not_drawn")
    if not freed_seats(session, lot):
        return Conflict("没有需要补抽的席位", code="nothing_to_replace")
    return None


def replace_declined(session: Session, staff: User, store: ObjectStore, lot: Lot, *, kek: bytes) -> Draw:
    """A new round for every seat freed (declined, or recused in the room) and not yet refilled,
    drawn the same way (each seat's own region and specialty)."""
    require_staff(staff)
    refusal = replace_refusal(session, lot)
    if refusal is not None:
        raise refusal
    rounds, freed = draws_of(session, lot), freed_seats(session, lot)
    by_round = {d.id: d for d in rounds}
    slot_rules: dict[int, tuple[rules.Slot, ...]] = {}
    counts: dict[tuple[str, str], int] = {}
    for m in freed:
        if m.draw_id not in slot_rules:
            slot_rules[m.draw_id] = rules.parse_snapshot(store.read_bytes(by_round[m.draw_id].snapshot_key))[1].slots
        s = slot_rules[m.draw_id][m.slot]
        counts[(s.region, s.specialty)] = counts.get((s.region, s.specialty), 0) + 1
    slots = [rules.Slot(region, sp, n) for (region, sp), n in counts.items()]
    d = _commit_round(session, staff, store, lot, slots, kek)
    for m in freed:
        m.replaced_by = d.id
    return d


def verification_bundle(store: ObjectStore, d: Draw) -> dict[str, Any]:
    """What ``ggzy draw verify FILE`` needs, for a drawn round (supervisors export it)."""
    if d.state is not DrawState.DRAWN:
        raise Conflict("本轮尚未抽取，种子尚未公开", code="not_drawn")
    return {
        "draw": d.id,
        "snapshot": base64.b64encode(store.read_bytes(d.snapshot_key)).decode(),
        "snapshot_sm3": d.snapshot_sm3,
        "seed": d.seed.hex(),
        "seed_sm3": d.seed_sm3,
        "result": d.result,
    }


def verify_bundle(bundle: dict[str, Any]) -> list[str]:
    return rules.verify(
        base64.b64decode(bundle["snapshot"]),
        bundle["snapshot_sm3"],
        bytes.fromhex(bundle["seed"]),
        bundle["seed_sm3"],
        [(int(a), int(b)) for a, b in bundle["result"]],
    )
