"""The audit trail for staff and supervisors: recent events, and the check of every event against
the chain, the signed checkpoints and their copies in the archive store."""

from __future__ import annotations

from flask import Blueprint, render_template
from sqlalchemy import select

from archive.audit import AuditEvent
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.audit.api import log_problems

pages = Blueprint("audit", __name__, template_folder="templates")


def _latest() -> list[AuditEvent]:
    return list(web.db().scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(100)))


@pages.get("/audit")
@requires(Permission.AUDIT_READ)
def audit_page() -> str:
    return render_template("audit/audit.html", events=_latest(), problems=None)


@pages.post("/audit/verify")
@requires(Permission.AUDIT_READ)
def audit_verify_page() -> str:
    return render_template("audit/audit.html", events=_latest(), problems=log_problems())
