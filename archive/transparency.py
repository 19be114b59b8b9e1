"""The audit events as a transparency log: roots and proofs from the stored subtrees, and the
platform-signed checkpoints (tree size, root, time).

A checkpoint is asked for in the transaction of a decisive moment (``request_checkpoint``: the bid
deadline, the end of the decryption window, a signed record…), covering every event up to that
one; the scheduler signs it within seconds (``sign_pending``), adds an unpublished *anchor*
checkpoint within seconds of any growth (``anchor_checkpoint``) and a public one at a configured
interval. Every signed checkpoint is written to the archive store (WORM, COMPLIANCE retention) as
it is signed, so that whoever can write the database cannot rewrite the events, or the checkpoints
that fix them, without ``verify_log`` finding the stored copies disagreeing. The root of any past
size can be recomputed later because the tree is append-only, so signing late changes nothing
about what is signed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, Integer, LargeBinary, String, Text, select, tuple_
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive import clock
from archive.audit import AuditEvent, AuditHead, MerkleNode, verify_chain
from archive.db import ArchiveBase, locked
from archive.merkle import (
    Range,
    consistency_ranges,
    frontier_root,
    inclusion_ranges,
    leaf_hash,
    needed,
    push,
    subtree_hash,
)
from archive.objectstore import ObjectStore
from archive.objectstore.base import KEY_PREFIX
from signing.certs import Certificate
from signing.digest import sm3_hex
from signing.sm2 import PrivateKey
from signing.statements import SignedStatement, sign_statement

CHECKPOINT_TYPE = "log_checkpoint"
ANCHOR = "anchor"  # the reason of the unpublished checkpoints that bound the unanchored window
MAX_STORED_CHECKPOINT = 16 << 10  # a statement is ~1.5 KiB; larger objects are packages


class LogCheckpoint(ArchiveBase):
    __tablename__ = "log_checkpoint"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(String(200), comment="interval, or the decisive moment")
    subject: Mapped[str | None] = mapped_column(String(80), comment="what it is about, e.g. tender:GGZY-…")
    requested_at: Mapped[dt.datetime]
    root_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    signed_at: Mapped[dt.datetime | None]
    statement: Mapped[str | None] = mapped_column(Text, comment="platform-signed statement (JSON)")


class LogError(ValueError):
    pass


def size(session: Session) -> int:
    """Events in the log (read from the database: the session may hold a stale head)."""
    return int(session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0)


def fetch(session: Session, ranges: set[Range]) -> dict[Range, bytes]:
    """Hashes of complete aligned subtrees: leaves from the events, the rest from the nodes."""
    leaves = [r for r in ranges if r[1] - r[0] == 1]
    nodes = [r for r in ranges if r[1] - r[0] > 1]
    out: dict[Range, bytes] = {}
    if leaves:
        rows = session.execute(
            select(AuditEvent.seq, AuditEvent.leaf_hash).where(AuditEvent.seq.in_([r[0] + 1 for r in leaves]))
        )
        out.update({(seq - 1, seq): h for seq, h in rows})
    if nodes:
        keys = [((r[1] - r[0]).bit_length() - 1, r[0] // (r[1] - r[0])) for r in nodes]
        found = session.execute(
            select(MerkleNode.level, MerkleNode.index, MerkleNode.hash).where(
                tuple_(MerkleNode.level, MerkleNode.index).in_(keys)
            )
        )
        out.update({(i << lv, (i + 1) << lv): h for lv, i, h in found})
    missing = ranges - set(out)
    if missing:
        raise LogError(f"日志缺少子树 {sorted(missing)[:3]} (log nodes missing)")
    return out


def _hashes(session: Session, ranges: list[Range]) -> list[bytes]:
    known = fetch(session, needed(ranges))
    return [subtree_hash(r, known.__getitem__) for r in ranges]


def root_at(session: Session, tree_size: int) -> bytes:
    if not 0 < tree_size <= size(session):
        raise LogError(f"树大小 {tree_size} 超出日志范围 (tree size out of range)")
    return _hashes(session, [(0, tree_size)])[0]


def inclusion_proof(session: Session, seq: int, tree_size: int) -> list[bytes]:
    """Proof that event ``seq`` (1-based) is in the tree of ``tree_size`` events."""
    if not 0 < seq <= tree_size <= size(session):
        raise LogError("事件序号或树大小超出范围 (seq or tree size out of range)")
    return _hashes(session, inclusion_ranges(seq - 1, tree_size))


def consistency_proof(session: Session, old: int, new: int) -> list[bytes]:
    if not 0 < old <= new <= size(session):
        raise LogError("树大小超出范围 (tree sizes out of range)")
    return _hashes(session, consistency_ranges(old, new))


# ---------------------------------------------------------------- checkpoints
CLOCK_SKEW = dt.timedelta(seconds=2)  # hosts kept by NTP agree within milliseconds; 2 s is generous


def request_checkpoint(session: Session, reason: str, subject: str | None = None) -> LogCheckpoint:
    """Ask for a checkpoint covering every event so far (call after recording the moment's event)."""
    session.flush()
    cp = LogCheckpoint(tree_size=size(session), reason=reason, subject=subject, requested_at=clock.now())
    session.add(cp)
    session.flush()
    return cp


def checkpoint_body(tree_size: int, root: bytes, reason: str, subject: str | None, cp_id: int) -> dict[str, Any]:
    return {
        "log": "ggzy-audit",
        "id": cp_id,
        "tree_size": tree_size,
        "root_sm3": root.hex(),
        "reason": reason,
        "subject": subject,
    }


def sign_pending(
    session: Session,
    key: PrivateKey,
    cert: Certificate,
    *,
    store: ObjectStore | None = None,
    retain_until: dt.datetime | None = None,
) -> int:
    """Sign every requested checkpoint (the scheduler's job), and write each to ``store`` with
    COMPLIANCE retention before the transaction that records it commits: a checkpoint the store
    refused stays unsigned and is signed again at the next run.

    The signing time is read after the rows are locked, never taken from the caller: a caller's
    instant from before the lock can precede an event another process committed meanwhile, and
    the verifier rightly refuses an event later than the checkpoint that covers it. A signer whose
    clock lags the host that wrote the newest covered event by up to ``CLOCK_SKEW`` signs at that
    event's time instead (times in the log never decrease, so it is the latest covered); an event
    further ahead is no clock error but a forged or misset time, and the verifier names it."""
    pending = session.scalars(
        locked(select(LogCheckpoint).where(LogCheckpoint.statement.is_(None)).order_by(LogCheckpoint.id))
    ).all()
    for cp in pending:
        if cp.tree_size == 0:
            session.delete(cp)
            continue
        now = clock.as_utc(clock.now())
        newest = session.scalar(select(AuditEvent.at).where(AuditEvent.seq == cp.tree_size))
        if newest is not None and now < clock.as_utc(newest) <= now + CLOCK_SKEW:
            now = clock.as_utc(newest)
        root = root_at(session, cp.tree_size)
        body = checkpoint_body(cp.tree_size, root, cp.reason, cp.subject, cp.id)
        data = sign_statement(CHECKPOINT_TYPE, body, key=key, cert=cert, now=now).to_json()
        if store is not None:
            stored = store.put_bytes(data)
            store.set_retention(stored.key, retain_until or now + dt.timedelta(days=365 * 15 + 4))
        cp.root_hash, cp.signed_at, cp.statement = root, now, data.decode()
    return len(pending)


def interval_checkpoint(session: Session, every: dt.timedelta, now: dt.datetime | None = None) -> LogCheckpoint | None:
    """A public checkpoint when the log grew and the last public one is older than ``every``."""
    now = now or clock.now()
    last = session.scalar(
        select(LogCheckpoint).where(LogCheckpoint.reason != ANCHOR).order_by(LogCheckpoint.id.desc()).limit(1)
    )
    current = size(session)
    if current == 0 or (last is not None and (last.tree_size >= current or now - last.requested_at < every)):
        return None
    return request_checkpoint(session, "interval")


def anchor_checkpoint(session: Session, every: dt.timedelta, now: dt.datetime | None = None) -> LogCheckpoint | None:
    """An unpublished checkpoint once the log has grown past the last checkpoint of any kind and
    that one is at least ``every`` old: it bounds how long an event stays unanchored (editable by
    whoever writes the database without a signed root disagreeing). Kept out of the public API,
    whose interval checkpoints alone reveal the log's size over time."""
    now = now or clock.now()
    last = session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1))
    current = size(session)
    if current == 0 or (last is not None and (last.tree_size >= current or now - last.requested_at < every)):
        return None
    return request_checkpoint(session, ANCHOR)


@dataclass(frozen=True)
class CheckpointView:
    id: int
    tree_size: int
    root: bytes
    signed_at: dt.datetime
    reason: str
    subject: str | None
    statement: str


def signed_checkpoints(session: Session, subject: str | None = None, *, public: bool = False) -> list[CheckpointView]:
    q = select(LogCheckpoint).where(LogCheckpoint.statement.is_not(None))
    if subject is not None:
        q = q.where(LogCheckpoint.subject == subject)
    if public:
        q = q.where(LogCheckpoint.reason != ANCHOR)
    return [
        CheckpointView(
            c.id, c.tree_size, c.root_hash or b"", c.signed_at or c.requested_at, c.reason, c.subject, c.statement or ""
        )
        for c in session.scalars(q.order_by(LogCheckpoint.id))
    ]


def verify_checkpoint(statement: str, trusted: Certificate) -> dict[str, Any]:
    """The signed body of a checkpoint statement (raises if the signature does not verify)."""
    body: dict[str, Any] = SignedStatement.from_json(statement.encode()).verify(
        trusted=trusted, expected_type=CHECKPOINT_TYPE
    )["body"]
    return body


@dataclass(frozen=True)
class LogProblem:
    where: str
    problem: str


@dataclass(frozen=True)
class StoredCheckpoint:
    key: str
    statement: bytes
    body: dict[str, Any]


def stored_checkpoints(store: ObjectStore, trusted: Certificate) -> tuple[list[StoredCheckpoint], list[LogProblem]]:
    """The checkpoints in the archive store (small objects that are checkpoint statements), each
    checked against its content address and the platform's signature."""
    found: list[StoredCheckpoint] = []
    problems: list[LogProblem] = []
    for obj in store.list():
        if obj.size > MAX_STORED_CHECKPOINT:
            continue
        try:
            data = store.read_bytes(obj.key)
        except Exception as exc:
            problems.append(LogProblem(f"stored {obj.key}", f"无法读取 (unreadable): {type(exc).__name__}: {exc}"))
            continue
        try:
            st = SignedStatement.from_json(data)
            kind = st.content.get("type")
        except Exception:  # not a signed statement: some other small object
            continue
        if kind != CHECKPOINT_TYPE:
            continue
        if KEY_PREFIX + sm3_hex(data) != obj.key:
            problems.append(LogProblem(f"stored {obj.key}", "存储的检查点内容与其地址不符 (stored object damaged)"))
            continue
        try:
            body = verify_checkpoint(data.decode(), trusted)
        except Exception as exc:
            problems.append(LogProblem(f"stored {obj.key}", f"签名无效 (signature invalid): {exc}"))
            continue
        found.append(StoredCheckpoint(obj.key, data, body))
    return found, problems


def _compare_with_store(
    checkpoints: list[CheckpointView], stored: list[StoredCheckpoint], problems: list[LogProblem]
) -> None:
    """The database's checkpoints against the copies written to WORM storage as they were signed."""
    by_id = {cp.id: cp for cp in checkpoints}
    covered: set[int] = set()
    for sc in stored:
        cp_id = sc.body.get("id")
        if not isinstance(cp_id, int):
            continue
        covered.add(cp_id)
        db = by_id.get(cp_id)
        if db is None:
            problems.append(
                LogProblem(
                    f"checkpoint {cp_id}",
                    f"档案存储中有（{sc.key}），数据库中没有：被删除 (stored checkpoint missing from the database)",
                )
            )
        elif db.statement.encode() != sc.statement and (db.tree_size, db.root.hex()) != (
            sc.body.get("tree_size"),
            sc.body.get("root_sm3"),
        ):
            problems.append(
                LogProblem(
                    f"checkpoint {cp_id}",
                    f"数据库中的检查点与档案存储中的（{sc.key}）不符 (database checkpoint differs from the stored copy)",
                )
            )
    for cp in checkpoints:
        if cp.id in covered:
            continue
        try:
            has_id = "id" in SignedStatement.from_json(cp.statement.encode()).content["body"]
        except Exception:
            continue  # its signature check above has named it already
        if has_id:  # signed since checkpoints are stored: the store must hold it
            problems.append(
                LogProblem(
                    f"checkpoint {cp.id}", "已签名但档案存储中没有 (signed checkpoint missing from the archive store)"
                )
            )


def _earliest_covering(signed: list[tuple[int, dt.datetime, str]]) -> list[tuple[int, dt.datetime, str]]:
    """For each tree size, the earliest signed time among the checkpoints of that size or larger:
    an event covered by a checkpoint existed when it was signed, so its time cannot be later.
    Ascending by tree size; the events walk it from the front."""
    out: list[tuple[int, dt.datetime, str]] = []
    for size_, at, which in sorted(signed, key=lambda t: -t[0]):
        if out and out[-1][1] <= at:
            at, which = out[-1][1], out[-1][2]
        out.append((size_, at, which))
    out.reverse()
    return out


def verify_log(
    session: Session, trusted: Certificate, batch: int = 10_000, *, store: ObjectStore | None = None
) -> tuple[int, list[LogProblem]]:
    """The hash chain (``verify_chain``: every event recomputed from its content, none missing),
    then the root at every signed checkpoint recomputed from those leaves and compared with what the
    platform signed. With the archive ``store``, the database's checkpoints are also compared with
    the stored copies, and the roots those copies signed are recomputed too: deleting or rewriting
    checkpoint rows does not hide an edited event. Event times: none earlier than its predecessor's
    (``verify_chain``), none later than the signed time of a checkpoint that covers it. Returns
    (checkpoints checked, problems)."""
    problems = [LogProblem(f"event {p.seq}", p.problem) for p in verify_chain(session, batch)]
    checkpoints = signed_checkpoints(session)
    wanted: dict[int, list[tuple[str, bytes]]] = {}
    signed_times: list[tuple[int, dt.datetime, str]] = []  # (tree size, signed time, which)
    for cp in checkpoints:
        try:
            body = verify_checkpoint(cp.statement, trusted)
            signed_at = SignedStatement.from_json(cp.statement.encode()).signed_at
        except Exception as exc:  # any failure to verify is a finding, named
            problems.append(LogProblem(f"checkpoint {cp.id}", f"签名无效 (signature invalid): {exc}"))
            continue
        signed_times.append((cp.tree_size, clock.as_utc(signed_at), f"checkpoint {cp.id}"))
        if body["tree_size"] != cp.tree_size or body["root_sm3"] != cp.root.hex() or body.get("id", cp.id) != cp.id:
            problems.append(LogProblem(f"checkpoint {cp.id}", "签名内容与存储的检查点不符 (stored checkpoint altered)"))
        wanted.setdefault(cp.tree_size, []).append((f"checkpoint {cp.id}", cp.root))
    checked = len(checkpoints)
    if store is not None:
        stored, found = stored_checkpoints(store, trusted)
        problems += found
        _compare_with_store(checkpoints, stored, problems)
        for sc in stored:
            try:
                wanted.setdefault(int(sc.body["tree_size"]), []).append(
                    (f"stored checkpoint {sc.body.get('id')} ({sc.key})", bytes.fromhex(sc.body["root_sm3"]))
                )
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(LogProblem(f"stored {sc.key}", f"内容格式错误 (malformed): {exc}"))
        checked += len(stored)
    bound, b = _earliest_covering(signed_times), 0
    frontier: list[tuple[int, bytes]] = []
    n = last = 0  # leaves recomputed; the last seq read
    while True:
        rows = session.scalars(
            select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for ev in rows:  # the leaf from the event's content, not the stored hash
            push(frontier, leaf_hash(ev.canonical()), n)
            n, last = n + 1, ev.seq
            while b < len(bound) and bound[b][0] < n:
                b += 1
            if b < len(bound) and clock.as_utc(ev.at) > bound[b][1]:
                problems.append(
                    LogProblem(
                        f"event {ev.seq}",
                        f"事件时间晚于覆盖它的{bound[b][2]}的签名时间 "
                        f"{clock.local(bound[b][1]):%Y-%m-%d %H:%M:%S}（北京时间）"
                        " (event later than the signed checkpoint that covers it)",
                    )
                )
            for where, root in wanted.get(n, ()):
                if frontier_root(frontier) != root:
                    problems.append(LogProblem(where, f"重算的根与签名的根不符，树大小 {n} (root mismatch)"))
    for tree_size, due in wanted.items():
        if tree_size > n:
            for where, _ in due:
                problems.append(LogProblem(where, f"日志只有 {n} 个事件，少于检查点的 {tree_size} (log truncated)"))
    return checked, problems
