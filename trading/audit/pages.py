"""The audit trail for staff and supervisors: recent events, and the check of every event against
the chain, the signed checkpoints and their copies in the archive store."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, render_template
from sqlalchemy import select

from archive.audit import AuditEvent
from archive.transparency import LogProblem, verify_log
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.services import services

pages = Blueprint("audit", __name__)
api = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit")


def _events(after: int, limit: int) -> list[AuditEvent]:
    q = select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(limit)
    return list(web.db().scalars(q))


def event_json(e: AuditEvent) -> dict[str, object]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor_id,
        "role": e.actor_role,
        "action": e.action,
        "object": f"{e.object_type}:{e.object_id}",
        "payload": e.payload,
        "payload_sm3": e.payload_sm3.hex(),
        "leaf_hash": e.leaf_hash.hex(),
        "chain_hash": e.chain_hash.hex(),
    }


def _args() -> tuple[int, int]:
    return web.query_int("after", 0), web.query_int("limit", 100, minimum=1, maximum=1000)


def _problems() -> list[LogProblem]:
    svc = services(current_app)
    return verify_log(web.db(), svc.keys.sign_cert, store=svc.archive_store)[1]


@pages.get("/audit")
@requires(Permission.AUDIT_READ)
def audit_page() -> str:
    latest = list(web.db().scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(100)))
    return render_template("audit.html", events=latest, problems=None)


@pages.post("/audit/verify")
@requires(Permission.AUDIT_READ)
def audit_verify_page() -> str:
    latest = list(web.db().scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(100)))
    return render_template("audit.html", events=latest, problems=_problems())


@api.get("/events")
@requires(Permission.AUDIT_READ)
def api_events() -> Response:
    after, limit = _args()
    return jsonify({"items": [event_json(e) for e in _events(after, limit)]})


@api.get("/verify")
@requires(Permission.AUDIT_READ)
def api_verify() -> Response:
    problems = _problems()
    return jsonify({"ok": not problems, "problems": [{"where": p.where, "problem": p.problem} for p in problems]})
