"""The audit log as a file anyone can check (``ggzy audit export``), and the statistics recomputed
from it alone (``ggzy stats --verify``).

The export is JSON Lines: first the newest signed checkpoint (the platform's signed statement of
the tree size and root), then every event from 1 to that size with its canonical fields, its
payload and its leaf hash. Because the export holds the whole prefix of the log, the verifier
rebuilds the Merkle tree from the leaves and compares its root with the signed one: a stronger
check than one inclusion proof per event (it also finds an event left out), and the proofs'
hashes need not be shipped. Events after the checkpoint are not exported; the statistics
compared are those whose ``stats.lot_fact`` the checkpoint covers.

The verification (``verify_export``) then checks each ``stats.lot_fact`` against the events it
cites (the publication's time, the conclusion's time, outcome and award price, the opening's
number of bids), aggregates the facts with ``trading.supervision.statistics`` (the same code the
server uses) and compares fact by fact and figure by figure with the database's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.audit import AuditEvent, listed_leaf
from archive.merkle import frontier_root, push
from archive.transparency import signed_checkpoints, verify_checkpoint
from signing.certs import Certificate
from trading.supervision.facts import CONCLUSIONS, FACT_ACTION, OPENING_ACTIONS, PUBLISH_ACTION, money
from trading.supervision.models import FactSource, LotFact
from trading.supervision.statistics import DIMENSIONS, Fact, Row, tables

BATCH = 5000
EXPORT_FORMAT = "ggzy-audit-export/1"


class ExportError(ValueError):
    pass


@dataclass(frozen=True)
class Finding:
    """One difference ``--verify`` found, named: ``code`` for scripts, ``where`` and ``message`` for people."""

    code: str
    where: str
    message: str

    def line(self) -> str:
        return f"{self.code}  {self.where}: {self.message}"


# ---------------------------------------------------------------- the export
def export_log(session: Session, out: IO[str]) -> tuple[int, int]:
    """Write the export to ``out``: the newest signed checkpoint, then events 1 … its tree size.
    Returns (tree size, checkpoint id); ExportError when no checkpoint has been signed."""
    checkpoints = signed_checkpoints(session)
    if not checkpoints:
        raise ExportError("还没有已签名的日志检查点，无法导出可核验的日志 (no signed checkpoint yet)")
    cp = max(checkpoints, key=lambda c: (c.tree_size, c.id))
    header = {
        "format": EXPORT_FORMAT,
        "type": "checkpoint",
        "id": cp.id,
        "tree_size": cp.tree_size,
        "root_sm3": cp.root.hex(),
        "signed_at": clock.as_utc(cp.signed_at).isoformat(),
        "statement": cp.statement,
    }
    out.write(json.dumps(header, ensure_ascii=False, sort_keys=True) + "\n")
    last = 0
    while last < cp.tree_size:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.seq > last, AuditEvent.seq <= cp.tree_size)
            .order_by(AuditEvent.seq)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        for ev in rows:
            out.write(json.dumps(event_json(ev), ensure_ascii=False, sort_keys=True) + "\n")
            last = ev.seq
    return cp.tree_size, cp.id


def event_json(ev: AuditEvent) -> dict[str, Any]:
    """An event's canonical fields, payload and leaf hash (the archive package's events.jsonl form)."""
    return {
        "type": "event",
        "seq": ev.seq,
        "at": clock.as_utc(ev.at).isoformat(timespec="microseconds"),
        "actor": ev.actor_id,
        "role": ev.actor_role,
        "action": ev.action,
        "object_type": ev.object_type,
        "object_id": ev.object_id,
        "payload": ev.payload,
        "leaf_hash": bytes(ev.leaf_hash).hex(),
    }


# ---------------------------------------------------------------- reading it back
@dataclass
class ReadLog:
    tree_size: int
    events: dict[int, dict[str, Any]]
    facts: list[tuple[int, dict[str, Any]]]  # (seq, stats.lot_fact payload)


def read_export(lines: Iterable[str], trusted: Certificate, findings: list[Finding]) -> ReadLog | None:
    """The checkpoint checked against the platform certificate, every event's leaf recomputed and
    the tree's root compared with the signed root. Keeps the events the facts may cite."""
    it: Iterator[str] = iter(lines)
    try:
        header = json.loads(next(it))
        body = verify_checkpoint(header["statement"], trusted)
        size, root = int(body["tree_size"]), bytes.fromhex(body["root_sm3"])
    except StopIteration:
        findings.append(Finding("export_empty", "export", "导出文件为空 (empty export)"))
        return None
    except Exception as exc:
        findings.append(Finding("checkpoint_invalid", "checkpoint", f"检查点签名无效或格式错误: {exc}"))
        return None
    frontier: list[tuple[int, bytes]] = []
    events: dict[int, dict[str, Any]] = {}
    facts: list[tuple[int, dict[str, Any]]] = []
    wanted = {PUBLISH_ACTION, *CONCLUSIONS, *OPENING_ACTIONS, FACT_ACTION}
    n = 0
    for number, line in enumerate(it, start=2):
        if not line.strip():
            continue
        try:
            ev = json.loads(line)
            seq = int(ev["seq"])
            leaf = listed_leaf(ev)
        except Exception as exc:
            findings.append(Finding("event_malformed", f"line {number}", f"事件格式错误: {exc}"))
            return None
        if seq != n + 1:
            findings.append(
                Finding("event_missing", f"event {n + 1}", f"应为事件 {n + 1}，实为 {seq}：事件缺失或顺序错误")
            )
            return None
        if ev.get("leaf_hash") != leaf.hex():
            findings.append(Finding("leaf_mismatch", f"event {seq}", "事件内容与其叶哈希不符：事件被修改"))
        push(frontier, leaf, n)
        n += 1
        if ev["action"] in wanted:
            events[seq] = ev
            if ev["action"] == FACT_ACTION:
                try:
                    facts.append((seq, json.loads(ev["payload"])))
                except ValueError as exc:
                    findings.append(Finding("fact_malformed", f"event {seq}", f"统计事实不是 JSON: {exc}"))
    if n != size:
        findings.append(Finding("log_truncated", "export", f"导出有 {n} 个事件，检查点的树大小为 {size}"))
        return None
    if frontier_root(frontier) != root:
        findings.append(
            Finding("root_mismatch", "checkpoint", f"由事件重算的根与签名的根不符（树大小 {size}）：日志被修改")
        )
        return None
    return ReadLog(size, events, facts)


# ---------------------------------------------------------------- facts against their sources
def _same_instant(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return clock.as_utc(dt.datetime.fromisoformat(a)) == clock.as_utc(dt.datetime.fromisoformat(b))


def check_fact(seq: int, body: dict[str, Any], events: dict[int, dict[str, Any]]) -> list[Finding]:
    """A fact against the events it cites, where they carry the value: the announcement's time,
    the conclusion's lot, time, outcome and price, the opening's number of bids."""
    key = str(body.get("lot_key"))
    where = f"{key} (event {seq})"
    out: list[Finding] = []

    def differ(what: str, fact: Any, source: Any) -> None:
        out.append(Finding("fact_disagrees", where, f"{what}：事实为 {fact}，来源事件为 {source}"))

    sources = body.get("sources") or {}
    fact_event = events.get(seq, {})
    publish = events.get(sources.get("publish") or -1)
    conclusion = events.get(sources.get("conclusion") or -1)
    if publish is None or publish["action"] != PUBLISH_ACTION:
        out.append(Finding("fact_source_missing", where, "引用的招标公告发布事件不在导出中"))
    elif not _same_instant(body.get("announced_at"), publish["at"]):
        differ("公告发布时间", body.get("announced_at"), publish["at"])
    if conclusion is None or conclusion["action"] not in CONCLUSIONS:
        out.append(Finding("fact_source_missing", where, "引用的标段结束事件不在导出中"))
        return out
    if (conclusion["object_type"], conclusion["object_id"]) != (
        fact_event.get("object_type"),
        fact_event.get("object_id"),
    ):
        differ("标段", f"{fact_event.get('object_type')}:{fact_event.get('object_id')}", conclusion["object_id"])
    if body.get("outcome") != CONCLUSIONS[conclusion["action"]]:
        differ("结果", body.get("outcome"), conclusion["action"])
    if not _same_instant(body.get("concluded_at"), conclusion["at"]):
        differ("结束时间", body.get("concluded_at"), conclusion["at"])
    if conclusion["action"] == "lot.award":
        price = json.loads(conclusion["payload"]).get("price")
        try:
            agrees = price is not None and body.get("award_amount") == money(price)
        except (InvalidOperation, ValueError):
            agrees = False
        if not agrees:
            differ("中标金额", body.get("award_amount"), price)
    opening_seq = sources.get("opening")
    if opening_seq is not None:
        opening = events.get(opening_seq)
        stated = json.loads(opening["payload"]) if opening is not None else {}
        if opening is None or opening["action"] not in OPENING_ACTIONS or stated.get("from") != "scheduled":
            out.append(Finding("fact_source_missing", where, "引用的开标事件不在导出中"))
        elif stated.get("bids") != body.get("bids"):
            differ("投标数", body.get("bids"), stated.get("bids"))
    return out


def fact_of(body: dict[str, Any], source: str = "trail") -> Fact:
    award = body.get("award_amount")
    concluded = body.get("concluded_at")
    return Fact(
        source,
        str(body["lot_key"]),
        str(body["category"]),
        str(body["procedure"]),
        str(body["region"]),
        clock.as_utc(dt.datetime.fromisoformat(body["announced_at"])),
        clock.as_utc(dt.datetime.fromisoformat(concluded)) if concluded else None,
        str(body["outcome"]),
        Decimal(body["budget"]),
        Decimal(award) if award is not None else None,
        body.get("bids"),
    )


def db_facts(session: Session, upto_seq: int) -> list[Fact]:
    """The database's trail facts whose ``stats.lot_fact`` event the export's checkpoint covers."""
    rows = session.scalars(
        select(LotFact).where(LotFact.source == FactSource.TRAIL, LotFact.fact_seq <= upto_seq).order_by(LotFact.id)
    )
    return [
        Fact(
            "trail",
            f.lot_key,
            f.category,
            f.procedure_code,
            f.region,
            clock.as_utc(f.announced_at),
            clock.as_utc(f.concluded_at) if f.concluded_at else None,
            f.outcome,
            Decimal(f.budget),
            Decimal(f.award_amount) if f.award_amount is not None else None,
            f.bids,
        )
        for f in rows
    ]


FIGURE_NAMES = (
    "key",
    "tenders",
    "lots",
    "awarded",
    "failed",
    "terminated",
    "budget",
    "award",
    "awarded_budget",
    "bids",
    "bid_lots",
    "award_time",
    "generated",
)


def compare_rows(dimension: str, mine: list[Row], theirs: list[Row]) -> list[Finding]:
    out: list[Finding] = []
    a = {r.key: r.figures() for r in mine}
    b = {r.key: r.figures() for r in theirs}
    for key in sorted(set(a) | set(b)):
        if key not in b:
            out.append(Finding("figure_differs", f"{dimension} {key}", "导出中有此分组，数据库中没有"))
        elif key not in a:
            out.append(Finding("figure_differs", f"{dimension} {key}", "数据库中有此分组，导出中没有"))
        else:
            for name, x, y in zip(FIGURE_NAMES, a[key], b[key], strict=True):
                if x != y:
                    out.append(Finding("figure_differs", f"{dimension} {key} {name}", f"导出重算 {x}，数据库 {y}"))
    return out


@dataclass
class Verification:
    findings: list[Finding]
    tree_size: int = 0
    facts: int = 0
    lots: int = 0


def verify_export(lines: Iterable[str], trusted: Certificate, session: Session | None) -> Verification:
    """Everything ``ggzy stats --verify`` checks; with ``session``, the comparison with the database."""
    findings: list[Finding] = []
    log = read_export(lines, trusted, findings)
    if log is None:
        return Verification(findings)
    facts: dict[str, Fact] = {}
    for seq, body in log.facts:
        try:
            findings += check_fact(seq, body, log.events)
            fact = fact_of(body)
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            findings.append(Finding("fact_malformed", f"event {seq}", f"统计事实缺少字段或格式错误: {exc}"))
            continue
        if fact.lot_key in facts:
            findings.append(Finding("fact_duplicate", fact.lot_key, f"同一标段有两个统计事实（事件 {seq}）"))
            continue
        facts[fact.lot_key] = fact
    result = Verification(findings, log.tree_size, len(facts))
    mine = tables(facts.values())
    result.lots = mine["category"].total.lots
    if session is None:
        return result
    stored = {f.lot_key: f for f in db_facts(session, log.tree_size)}
    # a trail fact without its event is no trail fact: nothing in the log says it (an insertion)
    for key in session.scalars(
        select(LotFact.lot_key).where(LotFact.source == FactSource.TRAIL, LotFact.fact_seq.is_(None))
    ):
        findings.append(Finding("fact_without_event", key, "数据库中有来自审计日志的统计事实，却没有对应的审计事件"))
    for key in sorted(set(facts) | set(stored)):
        if key not in stored:
            findings.append(Finding("fact_missing_in_database", key, "导出中有此标段的统计事实，数据库中没有"))
        elif key not in facts:
            findings.append(Finding("fact_missing_in_export", key, "数据库中有此标段的统计事实，导出中没有"))
        elif facts[key] != stored[key]:
            diff = [
                f"{name}：导出 {getattr(facts[key], name)}，数据库 {getattr(stored[key], name)}"
                for name in (f.name for f in fields(Fact))
                if getattr(facts[key], name) != getattr(stored[key], name)
            ]
            findings.append(Finding("fact_differs", key, "；".join(diff)))
    theirs = tables(stored.values())
    for dimension in DIMENSIONS:
        findings += compare_rows(dimension, mine[dimension].rows, theirs[dimension].rows)
    findings += compare_rows("total", [mine["category"].total], [theirs["category"].total])
    return result
