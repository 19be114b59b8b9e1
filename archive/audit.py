"""Audit events (过程全留痕): one append-only, hash-chained row per state change or sensitive read.

``record_event`` runs inside the caller's transaction, so the event commits or rolls back
with the change it describes. Each event's ``leaf_hash`` is SM3(0x00 ‖ canonical event) —
the RFC 9162 leaf hash, so the Merkle tree of the archive issue can be built over existing
rows without rewriting history — and ``chain_hash`` = SM3(previous chain_hash ‖ leaf_hash).
Appends are serialised by locking the single ``audit_head`` row, which also makes ``seq``
gap-free.

The events are also the leaves of the RFC 9162 Merkle tree (``archive.merkle``): the head keeps
the tree's right edge (the frontier), and each append stores the complete subtrees it finishes
(on average one row), so appending costs the same at any size and proofs need O(log n) hashes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Engine,
    Integer,
    LargeBinary,
    String,
    Text,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive import clock
from archive.db import ArchiveBase, locked
from archive.merkle import leaf_hash, pack_frontier, push, unpack_frontier
from signing.canonical import canonical_json
from signing.digest import sm3

GENESIS = bytes(32)


@runtime_checkable
class Actor(Protocol):
    """Anything that acts: users, the scheduler, an issuer's API client."""

    @property
    def actor_id(self) -> str: ...

    @property
    def actor_role(self) -> str: ...


@dataclass(frozen=True)
class ActorRef:
    actor_id: str
    actor_role: str


SYSTEM = ActorRef("system", "system")
ANONYMOUS = ActorRef("anonymous", "public")


class AuditHead(ArchiveBase):
    """The last appended event; its row lock serialises appends."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, comment="seq of the last event, 0 when empty")
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    frontier: Mapped[bytes] = mapped_column(
        LargeBinary, default=b"", comment="the Merkle tree's right edge: (level byte ‖ SM3) per subtree"
    )


class MerkleNode(ArchiveBase):
    """A complete subtree of the event tree: leaves [index·2^level, (index+1)·2^level), level ≥ 1."""

    __tablename__ = "merkle_node"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditEvent(ArchiveBase):
    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False, comment="1, 2, 3, … no gaps")
    at: Mapped[dt.datetime] = mapped_column(comment="platform time (UTC) of the transaction")
    actor_id: Mapped[str] = mapped_column(String(64))
    actor_role: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True, comment="verb.noun, e.g. tender.publish")
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text, comment="canonical JSON")
    payload_sm3: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), comment="SM3(0x00 ‖ canonical event)")
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32), comment="SM3(previous chain_hash ‖ leaf_hash)")

    def canonical(self) -> bytes:
        return event_bytes(
            self.seq,
            self.at,
            self.actor_id,
            self.actor_role,
            self.action,
            self.object_type,
            self.object_id,
            self.payload_sm3,
        )


def event_bytes(
    seq: int,
    at: dt.datetime,
    actor_id: str,
    actor_role: str,
    action: str,
    object_type: str,
    object_id: str,
    payload_sm3: bytes,
) -> bytes:
    """What the leaf hash covers (the payload enters through its SM3)."""
    return canonical_json(
        {
            "seq": seq,
            "at": clock.as_utc(at).isoformat(timespec="microseconds"),
            "actor": actor_id,
            "role": actor_role,
            "action": action,
            "object": f"{object_type}:{object_id}",
            "payload_sm3": payload_sm3.hex(),
        }
    )


def listed_leaf(ev: Mapping[str, Any]) -> bytes:
    """The leaf hash of an event as a package's ``log/events.jsonl`` or ``ggzy audit export`` lists
    it (``seq``, ``at``, ``actor``, ``role``, ``action``, ``object_type``, ``object_id``, ``payload``).
    Raises KeyError, TypeError or ValueError on a malformed row; callers name the finding."""
    return leaf_hash(
        event_bytes(
            int(ev["seq"]),
            dt.datetime.fromisoformat(ev["at"]),
            ev["actor"],
            ev["role"],
            ev["action"],
            ev["object_type"],
            ev["object_id"],
            sm3(ev["payload"].encode("utf-8")),
        )
    )


ObjRef = tuple[str, str]


def _obj_ref(obj: Any) -> ObjRef:
    if isinstance(obj, tuple):
        return str(obj[0]), str(obj[1])
    ref = getattr(obj, "audit_ref", None)
    if ref is None:
        raise TypeError(f"{type(obj).__name__} has no audit_ref")
    return str(ref[0]), str(ref[1])


@dataclass
class _Appending:
    """The log's head as this database transaction sees it (locked), and appends not yet written.
    Kept on the connection, so every session sharing the transaction appends in one sequence."""

    seq: int
    chain: bytes
    frontier: list[tuple[int, bytes]]
    events: list[dict[str, Any]]
    nodes: list[dict[str, Any]]
    last_at: dt.datetime | None  # the time of event ``seq``: the next may not be earlier


_STATE = "ggzy.audit_appending"
_TOUCHED = "ggzy.audit_touched"  # on a session that appended in its current transaction


def _appending(session: Session) -> _Appending:
    conn = session.connection()
    state: _Appending | None = conn.info.get(_STATE)
    if state is None:  # first append of the transaction: lock the head row
        row = conn.execute(
            locked(select(AuditHead.seq, AuditHead.chain_hash, AuditHead.frontier).where(AuditHead.id == 1))
        ).first()
        head: tuple[int, bytes, bytes] = (
            (0, GENESIS, b"") if row is None else (row[0], bytes(row[1]), bytes(row[2] or b""))
        )
        if row is None:
            conn.execute(insert(AuditHead).values(id=1, seq=0, chain_hash=GENESIS, frontier=b""))
        last_at = conn.execute(select(AuditEvent.at).where(AuditEvent.seq == head[0])).scalar()
        state = _Appending(
            head[0], head[1], unpack_frontier(head[2]), [], [], None if last_at is None else clock.as_utc(last_at)
        )
        conn.info[_STATE] = state
    return state


def write_pending(session: Session) -> None:
    """Write the transaction's appends in one batch, with the head (before any ORM statement
    of the session and before its commit; also callable directly)."""
    if not session.info.get(_TOUCHED):
        return  # this session appended nothing (and may not even hold a connection yet)
    conn = session.connection()
    state: _Appending | None = conn.info.get(_STATE)
    if state is None or not state.events:
        return
    events, nodes = state.events, state.nodes
    state.events, state.nodes = [], []
    conn.execute(insert(AuditEvent), events)
    if nodes:
        conn.execute(insert(MerkleNode), nodes)
    conn.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=state.seq, chain_hash=state.chain, frontier=pack_frontier(state.frontier))
    )


@event.listens_for(Session, "do_orm_execute")
def _before_orm_statement(ctx: Any) -> None:
    write_pending(ctx.session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _untouched(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


def _forget(conn: Any, *_: Any) -> None:
    conn.info.pop(_STATE, None)  # the lock (or the savepoint's appends) ended: read the head again


for _name in ("commit", "rollback", "rollback_savepoint"):
    event.listen(Engine, _name, _forget)


def record_event(session: Session, actor: Actor, action: str, obj: Any, payload: Any = None) -> int:
    """Append an event in the caller's transaction (written before its next query and at commit)."""
    state = _appending(session)
    session.info[_TOUCHED] = True
    object_type, object_id = _obj_ref(obj)
    body = canonical_json(payload if payload is not None else {})
    # Taken with the head locked, and never before the previous event's: times in the log are
    # non-decreasing by construction (a clock stepped back repeats the last time), so the verifier
    # can treat any event earlier than its predecessor as forged.
    at = clock.as_utc(clock.now())
    if state.last_at is not None and at < state.last_at:
        at = state.last_at
    seq = state.seq + 1
    payload_sm3 = sm3(body)
    leaf = leaf_hash(
        event_bytes(seq, at, actor.actor_id, actor.actor_role, action, object_type, object_id, payload_sm3)
    )
    chain = sm3(state.chain + leaf)
    state.events.append(
        {
            "seq": seq,
            "at": at,
            "actor_id": actor.actor_id,
            "actor_role": actor.actor_role,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "payload": body.decode("utf-8"),
            "payload_sm3": payload_sm3,
            "leaf_hash": leaf,
            "chain_hash": chain,
        }
    )
    state.nodes.extend({"level": lv, "index": i, "hash": h} for lv, i, h in push(state.frontier, leaf, seq - 1))
    state.seq, state.chain, state.last_at = seq, chain, at
    return seq


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    problem: str


def verify_chain(session: Session, batch: int = 10_000) -> list[ChainProblem]:
    """Recompute every leaf and chain hash in order, and check that event times never go
    backwards; list what does not match (empty = intact)."""
    problems: list[ChainProblem] = []
    prev = GENESIS
    expected_seq = 1
    last = 0
    prev_at: dt.datetime | None = None
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:
            if ev.seq != expected_seq:
                problems.append(ChainProblem(expected_seq, f"缺少事件 {expected_seq}–{ev.seq - 1} (events missing)"))
            if sm3(ev.payload.encode("utf-8")) != ev.payload_sm3:
                problems.append(ChainProblem(ev.seq, "事件内容被修改 (payload altered)"))
            if leaf_hash(ev.canonical()) != ev.leaf_hash:
                problems.append(ChainProblem(ev.seq, "事件字段被修改 (event fields altered)"))
            if sm3(prev + ev.leaf_hash) != ev.chain_hash:
                problems.append(ChainProblem(ev.seq, "哈希链断裂 (hash chain broken)"))
            at = clock.as_utc(ev.at)
            if prev_at is not None and at < prev_at:  # record_event never writes one: forged
                problems.append(
                    ChainProblem(ev.seq, f"事件时间早于前一事件（{prev_at.isoformat()}）(event time goes backwards)")
                )
            prev, expected_seq, last, prev_at = ev.chain_hash, ev.seq + 1, ev.seq, at
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != last or head.chain_hash != prev):
        problems.append(ChainProblem(head.seq, "链头与最后事件不符 (head does not match the last event)"))
    return problems
