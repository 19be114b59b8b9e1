"""The platform's own credit events (平台信用事件): what the audit trail shows a participant did,
proposed as credit entries for staff to confirm or dismiss (domain.md: nothing is sanctioned
automatically).

Credit comes before the stages that write these facts, so the sweep reads the audit log by event
type and payload only (never their tables), from a cursor, each event once:

- ``ceremony.classify`` with outcome ``revoked``: the bidder did not decrypt its bid at the opening
  (撤销: not signed in, no key released, a key that does not open it; 实施条例第三十五条);
- ``guarantee.claim`` on the ground ``withdrew_after_deadline``: a bid withdrawn after the deadline
  and the guarantee claimed (实施条例第三十五条第二款); on ``refused_contract``: the winner refused
  to sign the contract (实施条例第七十四条);
- ``complaint.decide`` with finding ``dismissed`` (不属实): the decision records no bad faith (the
  complaint has no such field), so every 不属实 decision is proposed and staff judge whether the
  complaint was made in bad faith (实施条例第七十七条: 捏造事实、伪造材料 or 以非法手段取得证明材料);
- ``evaluation.recuse`` after the same seat's ``evaluation.pledge``: the expert signed the recusal
  pledge (no interest in the named bidders) and then withdrew for an interest, so the pledge was
  wrong when signed (实施条例第四十六条; 《评标专家和评标专家库管理办法》第十五条). A recusal before the
  pledge is the rule working and is not proposed.

Each proposal names its evidence: the events' sequence numbers, types and leaf hashes, which
``ggzy audit verify`` and the archive packages prove. Confirming makes a ``platform`` entry
(source ``proposal``, the proposal's id as its record id); dismissing needs a reason. The state
moves only through ``move_proposal``, each move an audit event.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from archive.audit import SYSTEM, Actor, AuditEvent, record_event, write_pending
from trading.accounts.models import Organisation, User
from trading.core.db import locked_singleton
from trading.core.errors import Conflict, InvalidInput
from trading.credit import rules
from trading.credit.entries import NewEntry, add_entry
from trading.credit.models import (
    CreditList,
    CreditProposal,
    Measure,
    ProposalCursor,
    ProposalKind,
    ProposalState,
    SubjectKind,
)

log = logging.getLogger("ggzy.credit")

#: the events the sweep reads
ACTIONS = ("ceremony.classify", "guarantee.claim", "complaint.decide", "evaluation.recuse")
#: events read per transaction
CHUNK = 500
MOVES: dict[ProposalState, frozenset[ProposalState]] = {
    ProposalState.PROPOSED: frozenset({ProposalState.CONFIRMED, ProposalState.DISMISSED}),
    ProposalState.CONFIRMED: frozenset(),
    ProposalState.DISMISSED: frozenset(),
}
AUTHORITY = "公共资源交易平台（平台信用事件，经工作人员确认）"


@dataclass(frozen=True)
class Found:
    """What one event suggests: the proposal's facts before it is a row."""

    kind: ProposalKind
    subject_kind: SubjectKind
    subject_id: str
    subject_name: str
    tender_code: str | None
    evidence_key: str
    evidence: list[AuditEvent]


def payload_of(ev: AuditEvent) -> Mapping[str, Any]:
    try:
        body = json.loads(ev.payload)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def evidence_json(ev: AuditEvent) -> dict[str, Any]:
    """An evidence event as a proposal names it: enough to find it (seq, type, time) and to prove
    it unchanged (its leaf hash in the log's Merkle tree, and its payload's SM3)."""
    return {
        "seq": ev.seq,
        "type": ev.action,
        "at": ev.at.isoformat(),
        "object": f"{ev.object_type}:{ev.object_id}",
        "sm3": ev.leaf_hash.hex(),
        "payload_sm3": ev.payload_sm3.hex(),
    }


def _earlier(session: Session, ev: AuditEvent, *actions: str) -> list[AuditEvent]:
    """Events of ``actions`` about the same object as ``ev``, before it."""
    q = select(AuditEvent).where(
        AuditEvent.action.in_(actions),
        AuditEvent.object_type == ev.object_type,
        AuditEvent.object_id == ev.object_id,
        AuditEvent.seq < ev.seq,
    )
    return list(session.scalars(q.order_by(AuditEvent.seq)))


def _org_name(session: Session, code: str) -> str:
    org = session.scalar(select(Organisation).where(Organisation.credit_code == code))
    return org.name if org is not None else code


def _user(session: Session, actor_id: str) -> User | None:
    kind, _, number = actor_id.partition(":")
    return session.get(User, int(number)) if kind == "user" and number.isdigit() else None


# ---------------------------------------------------------------- what each event suggests
def _not_decrypted(session: Session, ev: AuditEvent, body: Mapping[str, Any]) -> Found | None:
    code = body.get("bidder")
    if body.get("outcome") != "revoked" or not isinstance(code, str):
        return None
    created = _earlier(session, ev, "ceremony.create")
    tender = payload_of(created[0]).get("tender") if created else None
    return Found(
        ProposalKind.NOT_DECRYPTED,
        SubjectKind.ORGANISATION,
        code,
        _org_name(session, code),
        tender if isinstance(tender, str) else None,
        f"{ev.object_type}:{ev.object_id}:{code}",
        [ev],
    )


CLAIM_KINDS = {
    "withdrew_after_deadline": ProposalKind.WITHDRAWN_CLAIMED,
    "refused_contract": ProposalKind.CONTRACT_REFUSED,
}


def _claimed(session: Session, ev: AuditEvent, body: Mapping[str, Any]) -> Found | None:
    kind = CLAIM_KINDS.get(str(body.get("ground")))
    code = body.get("bidder")
    if kind is None or not isinstance(code, str):
        return None  # a claim recorded before the trail named its bidder cannot be proposed from it
    tender = body.get("tender")
    evidence = [ev]
    if kind is ProposalKind.WITHDRAWN_CLAIMED:
        opened = session.scalars(
            select(CreditProposal).where(
                CreditProposal.kind == ProposalKind.NOT_DECRYPTED,
                CreditProposal.subject_id == code,
                CreditProposal.tender_code == tender,
            )
        ).first()
        if opened is not None:  # the opening's classification is the withdrawal's own evidence
            seqs = [int(e["seq"]) for e in opened.evidence]
            evidence = [*session.scalars(select(AuditEvent).where(AuditEvent.seq.in_(seqs))), ev]
    return Found(
        kind,
        SubjectKind.ORGANISATION,
        code,
        _org_name(session, code),
        tender if isinstance(tender, str) else None,
        f"{ev.object_type}:{ev.object_id}",
        evidence,
    )


def _complaint(session: Session, ev: AuditEvent, body: Mapping[str, Any]) -> Found | None:
    if body.get("finding") != "dismissed":
        return None
    filed = _earlier(session, ev, "complaint.file")
    code = body.get("complainant")
    if not isinstance(code, str) and filed:
        user = _user(session, filed[0].actor_id)  # a complaint filed before the deadline names nobody
        code = user.organisation.credit_code if user is not None and user.organisation is not None else None
    if not isinstance(code, str):
        log.warning("credit: complaint %s decided 不属实 names no complainant in the trail", ev.object_id)
        return None
    tender = payload_of(filed[0]).get("tender") if filed else None
    return Found(
        ProposalKind.BAD_FAITH_COMPLAINT,
        SubjectKind.ORGANISATION,
        code,
        _org_name(session, code),
        tender if isinstance(tender, str) else None,
        f"{ev.object_type}:{ev.object_id}",
        [*filed[:1], ev],
    )


def _recusal(session: Session, ev: AuditEvent, body: Mapping[str, Any]) -> Found | None:
    pledged = _earlier(session, ev, "evaluation.pledge")
    seated = _earlier(session, ev, "evaluation.seat", "evaluation.representative")
    expert = payload_of(seated[0]).get("expert") if seated else None
    if not pledged or not isinstance(expert, int):
        return None
    user = _user(session, pledged[0].actor_id)
    name = user.display_name if user is not None else f"评标专家 {expert}"
    return Found(
        ProposalKind.RECUSAL_FAILURE,
        SubjectKind.EXPERT,
        str(expert),
        name,
        None,
        f"{ev.object_type}:{ev.object_id}",
        [seated[0], pledged[0], ev],
    )


READERS = {
    "ceremony.classify": _not_decrypted,
    "guarantee.claim": _claimed,
    "complaint.decide": _complaint,
    "evaluation.recuse": _recusal,
}


def propose(session: Session, found: Found, now: dt.datetime) -> CreditProposal | None:
    """The proposal ``found`` describes, unless the same evidence proposed it already."""
    held = session.scalar(
        select(CreditProposal.id).where(
            CreditProposal.kind == found.kind, CreditProposal.evidence_key == found.evidence_key
        )
    )
    if held is not None:
        return None
    p = CreditProposal(
        kind=found.kind,
        subject_kind=found.subject_kind,
        subject_id=found.subject_id,
        subject_name=found.subject_name[:200],
        tender_code=found.tender_code,
        evidence_key=found.evidence_key,
        evidence=[evidence_json(e) for e in found.evidence],
        state=ProposalState.PROPOSED,
        proposed_at=now,
    )
    session.add(p)
    session.flush()
    record_event(
        session,
        SYSTEM,
        "credit.proposed",
        p,
        {
            "kind": p.kind.value,
            "subject": {"kind": p.subject_kind.value, "id": p.subject_id},
            "tender": p.tender_code,
            "evidence": p.evidence,
        },
    )
    return p


# ---------------------------------------------------------------- the sweep
def cursor(session: Session) -> ProposalCursor:
    """The sweep's read position, locked: taking it serialises two sweeps."""
    return locked_singleton(session, ProposalCursor, seq=0)


def sweep(session: Session, now: dt.datetime) -> int:
    """Read the log from the cursor to its head, proposing what the events suggest; commits each
    chunk with the cursor moved past it. Returns the number of proposals made."""
    head = session.scalar(select(func.max(AuditEvent.seq))) or 0
    made = 0
    while True:
        cur = cursor(session)
        if cur.seq >= head:
            session.commit()
            return made
        events = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > cur.seq, AuditEvent.seq <= head, AuditEvent.action.in_(ACTIONS))
                .order_by(AuditEvent.seq)
                .limit(CHUNK)
            )
        )
        for ev in events:
            made += _one(session, ev, now)
        cur.seq = events[-1].seq if len(events) == CHUNK else head
        session.commit()


def _one(session: Session, ev: AuditEvent, now: dt.datetime) -> int:
    """One event in a savepoint: an event the sweep cannot read is logged and passed over rather
    than holding up every later one (the cursor moves on; its evidence stays in the log)."""
    write_pending(session)  # appends made before the savepoint must not be dropped with it
    try:
        with session.begin_nested():
            found = READERS[ev.action](session, ev, payload_of(ev))
            return 1 if found is not None and propose(session, found, now) is not None else 0
    except OperationalError:
        raise  # contention or a lost connection: the next sweep goes on from the cursor
    except Exception as exc:
        log.error("credit: audit event %s (%s) could not be read for a proposal", ev.seq, ev.action, exc_info=exc)
        return 0


# ---------------------------------------------------------------- staff decide
def move_proposal(
    session: Session,
    actor: Actor,
    proposal: CreditProposal,
    to: ProposalState,
    *,
    reason: str,
    user_id: int | None,
    now: dt.datetime,
    entry_id: int | None = None,
) -> None:
    """The one writer of ``CreditProposal.state``: proposed → confirmed or dismissed, once."""
    if to not in MOVES[proposal.state]:
        raise Conflict(f"该平台信用事件{proposal.state.label}，不能再处理", code="credit_proposal_decided")
    frm = proposal.state
    proposal.state, proposal.decided_at, proposal.decided_by_user_id = to, now, user_id
    proposal.reason, proposal.entry_id = reason, entry_id
    session.flush()
    record_event(
        session,
        actor,
        f"credit.proposal_{to.value}",
        proposal,
        {"from": frm.value, "reason": reason, "entry": entry_id},
    )


@dataclass(frozen=True)
class Terms:
    """What staff decide when confirming: the measure, its scope and period, and why."""

    measure: Measure
    region: str
    category: str | None
    starts_on: dt.date
    ends_on: dt.date | None
    reason: str


def confirm(
    session: Session, actor: Actor, p: CreditProposal, terms: Terms, *, user_id: int, now: dt.datetime
) -> CreditProposal:
    """确认: the proposal becomes a ``platform`` entry with the measure staff chose."""
    if p.state is not ProposalState.PROPOSED:
        raise Conflict(f"该平台信用事件{p.state.label}，不能再处理", code="credit_proposal_decided")
    if terms.measure not in rules.measures_for(p.subject_kind):
        allowed = "、".join(m.label for m in rules.measures_for(p.subject_kind))
        raise InvalidInput(f"{p.subject_kind.label}的信用记录措施应为：{allowed}", fields={"measure": allowed})
    if terms.category is not None and terms.category not in rules.CATEGORIES:
        raise InvalidInput("交易类别不是可选的值", fields={"category": "不是可选的值"})
    new = NewEntry(
        subject_kind=p.subject_kind,
        subject_id=p.subject_id,
        subject_name=p.subject_name,
        list_kind=CreditList.PLATFORM,
        measure=terms.measure,
        region=terms.region,
        category=terms.category,
        starts_on=terms.starts_on,
        ends_on=terms.ends_on,
        authority=AUTHORITY,
        document_no=f"平台信用事件第 {p.id} 号",
        facts=f"{p.kind.label}。{terms.reason}",
        source="proposal",
        source_ref=str(p.id),
    )
    entry, _ = add_entry(session, actor, new, user_id=user_id, import_id=None, now=now)
    move_proposal(
        session, actor, p, ProposalState.CONFIRMED, reason=terms.reason, user_id=user_id, now=now, entry_id=entry.id
    )
    return p


def dismiss(session: Session, actor: Actor, p: CreditProposal, reason: str, *, user_id: int, now: dt.datetime) -> None:
    """驳回: no entry; the reason stays with the proposal and in the trail."""
    move_proposal(session, actor, p, ProposalState.DISMISSED, reason=reason, user_id=user_id, now=now)
