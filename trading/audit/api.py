"""The audit trail over JSON: its events and their check for staff and supervisors
(/api/v1/audit), and the log as a public transparency log (/api/v1/log): signed checkpoints,
inclusion and consistency proofs (RFC 9162 with SM3).

Proofs are only given against the sizes of public signed checkpoints (decisive moments and the
interval ones), so the API never tells anyone the log's current size (which would count the
platform's activity between checkpoints); the anchors, seconds apart, stay unpublished.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import transparency as log
from archive.audit import AuditEvent
from archive.transparency import LogProblem, verify_log
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.audit.labels import action_label
from trading.audit.schemas import (
    CheckpointsOut,
    CheckpointsQuery,
    ConsistencyOut,
    ConsistencyQuery,
    EventsOut,
    EventsQuery,
    InclusionOut,
    InclusionQuery,
    VerifyOut,
)
from trading.core.apispec import documented
from trading.core.errors import InvalidInput, NotFound
from trading.core.services import services

api = Blueprint("audit_api", __name__, url_prefix="/api/v1")


def event_json(e: AuditEvent) -> dict[str, object]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor_id,
        "role": e.actor_role,
        "action": e.action,
        "action_label": action_label(e.action),
        "object": f"{e.object_type}:{e.object_id}",
        "payload": e.payload,
        "payload_sm3": e.payload_sm3.hex(),
        "leaf_hash": e.leaf_hash.hex(),
        "chain_hash": e.chain_hash.hex(),
    }


def checkpoint_json(cp: log.CheckpointView) -> dict[str, Any]:
    return {
        "id": cp.id,
        "tree_size": cp.tree_size,
        "root_sm3": cp.root.hex(),
        "signed_at": cp.signed_at.isoformat(),
        "reason": cp.reason,
        "subject": cp.subject,
        "statement": cp.statement,
    }


def log_problems() -> list[LogProblem]:
    """Every event checked against the chain, the signed checkpoints and their archived copies."""
    svc = services(current_app)
    return verify_log(web.db(), svc.keys.sign_cert, store=svc.archive_store)[1]


def _signed_size(session: Session, tree_size: int) -> None:
    public = select(log.LogCheckpoint.id).where(
        log.LogCheckpoint.tree_size == tree_size,
        log.LogCheckpoint.statement.is_not(None),
        log.LogCheckpoint.reason != log.ANCHOR,
    )
    if session.scalar(public.limit(1)) is None:
        raise NotFound(f"没有树大小为 {tree_size} 的已签名检查点")


# ---------------------------------------------------------------- the audit trail (staff)
@api.get("/audit/events")
@requires(Permission.AUDIT_READ)
@documented("审计事件（按序号分页）", ok=EventsOut, query=EventsQuery, errors=("bad_integer",))
def api_events() -> Response:
    after, limit = web.query_int("after", 0), web.query_int("limit", 100, minimum=1, maximum=1000)
    q = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(limit)
    return jsonify({"items": [event_json(e) for e in web.db().scalars(q)]})


@api.get("/audit/verify")
@requires(Permission.AUDIT_READ)
@documented("校验审计链、签名检查点及其归档副本", ok=VerifyOut)
def api_verify() -> Response:
    problems = log_problems()
    return jsonify({"ok": not problems, "problems": [{"where": p.where, "problem": p.problem} for p in problems]})


# ---------------------------------------------------------------- the transparency log (public)
@api.get("/log/checkpoints")
@requires(Permission.PUBLIC)
@documented("已签名的公开检查点", ok=CheckpointsOut, query=CheckpointsQuery)
def checkpoints() -> Response:
    subject = request.args.get("subject") or None
    items = log.signed_checkpoints(web.db(), subject, public=True)
    return jsonify({"items": [checkpoint_json(c) for c in items]})


@api.get("/log/inclusion")
@requires(Permission.PUBLIC)
@documented(
    "事件的包含证明", ok=InclusionOut, query=InclusionQuery, errors=("bad_integer", "not_found", "invalid_input")
)
def inclusion() -> Response:
    seq, size = web.query_int("seq"), web.query_int("size")
    db = web.db()
    _signed_size(db, size)
    if not 0 < seq <= size:
        raise InvalidInput("事件序号超出检查点范围", fields={"seq": f"1–{size}"})
    leaf = db.scalar(select(AuditEvent.leaf_hash).where(AuditEvent.seq == seq))
    proof = log.inclusion_proof(db, seq, size)
    return jsonify(
        {"seq": seq, "tree_size": size, "leaf_hash": leaf.hex() if leaf else None, "proof": [h.hex() for h in proof]}
    )


@api.get("/log/consistency")
@requires(Permission.PUBLIC)
@documented(
    "两个检查点之间的一致性证明",
    ok=ConsistencyOut,
    query=ConsistencyQuery,
    errors=("bad_integer", "not_found", "invalid_input"),
)
def consistency() -> Response:
    old, new = web.query_int("old"), web.query_int("new")
    db = web.db()
    _signed_size(db, old)
    _signed_size(db, new)
    if old > new:
        raise InvalidInput("old 应不大于 new")
    return jsonify({"old": old, "new": new, "proof": [h.hex() for h in log.consistency_proof(db, old, new)]})
