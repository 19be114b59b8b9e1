"""The audit log as a transparency log over HTTP: signed checkpoints, inclusion and consistency
proofs (RFC 9162 with SM3), and the scheduler's job that signs checkpoints.

Proofs are only given against the sizes of signed checkpoints, so the API never tells anyone the
log's current size (which would count the platform's activity between checkpoints).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import transparency as log
from archive.audit import AuditEvent
from trading import web
from trading.errors import InvalidInput, NotFound
from trading.permissions import Permission, requires
from trading.scheduler import job
from trading.services import Services

api = Blueprint("log_api", __name__, url_prefix="/api/v1/log")


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


def _int_arg(name: str) -> int:
    try:
        return int(request.args[name])
    except (KeyError, ValueError):
        raise InvalidInput(f"参数 {name} 应为整数", fields={name: "整数"}) from None


def _signed_size(session: Session, tree_size: int) -> None:
    if not any(cp.tree_size == tree_size for cp in log.signed_checkpoints(session)):
        raise NotFound(f"没有树大小为 {tree_size} 的已签名检查点")


@api.get("/checkpoints")
@requires(Permission.PUBLIC)
def checkpoints() -> Response:
    subject = request.args.get("subject") or None
    return jsonify({"items": [checkpoint_json(c) for c in log.signed_checkpoints(web.db(), subject)]})


@api.get("/inclusion")
@requires(Permission.PUBLIC)
def inclusion() -> Response:
    seq, size = _int_arg("seq"), _int_arg("size")
    db = web.db()
    _signed_size(db, size)
    if not 0 < seq <= size:
        raise InvalidInput("事件序号超出检查点范围", fields={"seq": f"1–{size}"})
    leaf = db.scalar(select(AuditEvent.leaf_hash).where(AuditEvent.seq == seq))
    proof = log.inclusion_proof(db, seq, size)
    return jsonify(
        {"seq": seq, "tree_size": size, "leaf_hash": leaf.hex() if leaf else None, "proof": [h.hex() for h in proof]}
    )


@api.get("/consistency")
@requires(Permission.PUBLIC)
def consistency() -> Response:
    old, new = _int_arg("old"), _int_arg("new")
    db = web.db()
    _signed_size(db, old)
    _signed_size(db, new)
    if old > new:
        raise InvalidInput("old 应不大于 new")
    return jsonify({"old": old, "new": new, "proof": [h.hex() for h in log.consistency_proof(db, old, new)]})


@job("sign_checkpoints", every_seconds=5)
def sign_checkpoints_job(session: Session, now: dt.datetime, services: Services) -> int:
    """Checkpoints asked for at decisive moments, and one per interval while the log grows."""
    log.interval_checkpoint(session, dt.timedelta(seconds=services.settings.checkpoint_interval_seconds), now)
    keys = services.keys
    return log.sign_pending(session, keys.sign_key, keys.sign_cert, now)
