"""The credit register's API (信用记录): entries, imports and pushes, checks, proposals.

Staff and supervisors read (CREDIT_READ); staff change (CREDIT_MANAGE). A credit system pushes
with a staff member's API token: ``POST /credit/entries`` with the list format's JSON, idempotent
by each record's list and record id (a retry is ``unchanged``; other content under the same id is
409 ``credit_entry_differs``). Files (CSV or JSON) go to ``POST /credit/imports`` as multipart.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from archive import clock
from archive.db import locked
from signing.errors import StatementError
from signing.statements import SignedStatement
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import InvalidInput, NotFound, UnsupportedMediaType
from trading.core.schemas import file_name
from trading.credit import hooks, imports, proposals
from trading.credit.checks import entry_json, result_label, result_of
from trading.credit.entries import revoke_entry
from trading.credit.formats import MAX_BYTES
from trading.credit.models import CheckPurpose, CreditCheck, CreditEntry, CreditProposal
from trading.credit.register import find_entries, list_proposals, proposal_state, read_filters
from trading.credit.schemas import (
    CheckOut,
    ConfirmIn,
    DismissIn,
    EntriesOut,
    EntriesQuery,
    EntryOut,
    ImportOut,
    ProposalOut,
    ProposalsOut,
    ProposalsQuery,
    RevokeIn,
)

api = Blueprint("credit_api", __name__, url_prefix="/api/v1")

#: room for the multipart envelope around a list file of the largest size
ENVELOPE = 64 * 1024
IMPORT_ERRORS = ("credit_import_invalid", "credit_entry_differs", "unsupported_media_type", "http_413")


# ---------------------------------------------------------------- shapes
def iso(value: dt.datetime | None) -> str | None:
    return clock.as_utc(value).isoformat() if value is not None else None


def entry_out(e: CreditEntry) -> dict[str, Any]:
    return {
        **entry_json(e),
        "import_id": e.import_id,
        "created_at": iso(e.created_at),
        "revoked_at": iso(e.revoked_at),
        "revoke_reason": e.revoke_reason,
    }


def check_out(c: CreditCheck) -> dict[str, Any]:
    return {
        "id": c.id,
        "purpose": c.purpose.value,
        "purpose_label": c.purpose.label,
        "subject": {"kind": c.subject_kind.value, "id": c.subject_id, "name": _signed_name(c)},
        "tender": c.tender_code,
        "lot": c.lot_number,
        "region": c.region,
        "category": c.category,
        "on": c.on.isoformat(),
        "result": result_of(c),
        "result_label": result_label(c),
        "barred": c.barred,
        "entries": c.found,
        "checked_at": iso(c.checked_at),
        "statement_sm3": c.statement_sm3,
    }


def _signed_name(c: CreditCheck) -> str:
    """The subject's name as the snapshot signed it (the row keeps only its code)."""
    try:
        return str(SignedStatement.from_json(c.statement.encode()).body["subject"]["name"])
    except (StatementError, KeyError, TypeError):
        return ""


def proposal_out(p: CreditProposal) -> dict[str, Any]:
    return {
        "id": p.id,
        "kind": p.kind.value,
        "kind_label": p.kind.label,
        "subject": {"kind": p.subject_kind.value, "id": p.subject_id, "name": p.subject_name},
        "tender": p.tender_code,
        "evidence": p.evidence,
        "state": p.state.value,
        "state_label": p.state.label,
        "proposed_at": iso(p.proposed_at),
        "decided_at": iso(p.decided_at),
        "reason": p.reason,
        "entry": p.entry_id,
    }


def import_out(outcome: imports.Outcome) -> dict[str, Any]:
    r = outcome.record
    ids = list(dict.fromkeys(e.id for e in outcome.entries))
    return {
        "id": r.id,
        "channel": r.channel,
        "file_name": r.file_name,
        "file_sm3": r.file_sm3,
        "rows": r.rows,
        "added": r.added,
        "unchanged": r.unchanged,
        "entries": ids,
    }


# ---------------------------------------------------------------- reading the register
def get_entry(entry_id: int, *, for_update: bool = False) -> CreditEntry:
    q = select(CreditEntry).where(CreditEntry.id == entry_id)
    e = web.db().scalar(locked(q) if for_update else q)
    if e is None:
        raise NotFound("信用记录不存在", code="no_such_credit_entry")
    return e


def get_check(check_id: int) -> CreditCheck:
    """A check; one made for a registration only once its tender's deadline has passed."""
    db = web.db()
    c = db.get(CreditCheck, check_id)
    sealed = c is not None and c.purpose is CheckPurpose.REGISTRATION
    if c is None or (sealed and not any(hooks.registration_public(db, c.tender_code, clock.now()))):
        raise NotFound("信用查询记录不存在", code="no_such_credit_check")
    return c


def get_proposal(proposal_id: int, *, for_update: bool = False) -> CreditProposal:
    q = select(CreditProposal).where(CreditProposal.id == proposal_id)
    p = web.db().scalar(locked(q) if for_update else q)
    if p is None:
        raise NotFound("平台信用事件不存在", code="no_such_credit_proposal")
    return p


# ---------------------------------------------------------------- changing it (the API and the pages)
def import_upload() -> imports.Outcome:
    """The multipart part ``file`` imported whole (not committed)."""
    request.max_content_length = MAX_BYTES + ENVELOPE
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("请以 multipart/form-data 上传文件（字段名 file）")
    part = request.files.get("file")
    if part is None or not part.filename:
        raise InvalidInput("请选择要导入的文件", fields={"file": "必填"})
    name = file_name(part.filename, "file")
    data = part.stream.read(MAX_BYTES + 1)
    user = web.require_user()
    return imports.import_file(web.db(), user, name, data, channel="file", user_id=user.id, now=clock.now())


def revoke(entry_id: int, reason: str) -> CreditEntry:
    user = web.require_user()
    return revoke_entry(web.db(), user, get_entry(entry_id, for_update=True), reason, user_id=user.id, now=clock.now())


def confirm(proposal_id: int, data: ConfirmIn) -> CreditProposal:
    user = web.require_user()
    terms = proposals.Terms(data.measure, data.region, data.category, data.starts_on, data.ends_on, data.reason)
    p = get_proposal(proposal_id, for_update=True)
    return proposals.confirm(web.db(), user, p, terms, user_id=user.id, now=clock.now())


def dismiss(proposal_id: int, reason: str) -> CreditProposal:
    user = web.require_user()
    p = get_proposal(proposal_id, for_update=True)
    proposals.dismiss(web.db(), user, p, reason, user_id=user.id, now=clock.now())
    return p


# ---------------------------------------------------------------- routes
@api.get("/credit/entries")
@requires(Permission.CREDIT_READ)
@documented("信用记录列表（按主体、名单、有效日期、是否撤销筛选，分页）", ok=EntriesOut, query=EntriesQuery)
def entries() -> Response:
    f = read_filters({k: v for k, v in request.args.items() if isinstance(v, str)})
    page = web.query_int("page", 1, minimum=1)
    rows, total, page, pages = find_entries(web.db(), f, page)
    return jsonify({"items": [entry_out(e) for e in rows], "total": total, "page": page, "pages": pages})


@api.get("/credit/entries/<int:entry_id>")
@requires(Permission.CREDIT_READ)
@documented("信用记录详情", ok=EntryOut, errors=("no_such_credit_entry",))
def entry(entry_id: int) -> Response:
    return jsonify(entry_out(get_entry(entry_id)))


@api.post("/credit/imports")
@requires(Permission.CREDIT_MANAGE)
@documented(
    "导入信用名单文件（CSV 或 JSON，逐行校验，有误则不写入任何记录）",
    raw="multipart/form-data",
    ok=ImportOut,
    status=201,
    errors=(*IMPORT_ERRORS, "bad_file_name"),
)
def import_file() -> tuple[Response, int]:
    """Part ``file``: the list (``.csv`` or ``.json``; otherwise told apart by content), at most
    5 MiB and 20,000 rows; see docs/formats.md "Credit list import"."""
    outcome = import_upload()
    web.commit()
    return jsonify(import_out(outcome)), 201


@api.post("/credit/entries")
@requires(Permission.CREDIT_MANAGE)
@documented(
    "信用系统推送信用记录（与导入文件相同的 JSON 格式；按名单记录编号幂等）",
    raw="application/json",
    ok=ImportOut,
    status=201,
    errors=IMPORT_ERRORS,
)
def push() -> tuple[Response, int]:
    """Body: ``{"format": "ggzy-credit-list/1", "entries": [...]}``. A record already held with the
    same content counts as ``unchanged`` (a retry is safe); with other content the whole push is
    refused (409 ``credit_entry_differs``, ``rows`` naming them)."""
    request.max_content_length = MAX_BYTES
    if not request.is_json:
        raise UnsupportedMediaType("请以 application/json 推送")
    user = web.require_user()
    data = request.get_data(cache=False)
    outcome = imports.import_file(web.db(), user, "push.json", data, channel="api", user_id=user.id, now=clock.now())
    web.commit()
    return jsonify(import_out(outcome)), 201


@api.post("/credit/entries/<int:entry_id>/revoke")
@requires(Permission.CREDIT_MANAGE)
@documented(
    "撤销信用记录（此后的查询不再适用；此前的查询结果不变）",
    body=RevokeIn,
    ok=EntryOut,
    errors=("no_such_credit_entry", "credit_entry_revoked"),
)
def revoke_route(entry_id: int) -> Response:
    e = revoke(entry_id, web.json_body(RevokeIn).reason)
    web.commit()
    return jsonify(entry_out(e))


@api.get("/credit/checks/<int:check_id>")
@requires(Permission.CREDIT_READ)
@documented("信用查询记录（平台签名快照的内容）", ok=CheckOut, errors=("no_such_credit_check",))
def check(check_id: int) -> Response:
    return jsonify(check_out(get_check(check_id)))


def statement_response(check_id: int) -> Response:
    c = get_check(check_id)
    return Response(
        c.statement.encode(),
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="credit-check-{c.id}.json"'},
    )


@api.get("/credit/checks/<int:check_id>/statement")
@requires(Permission.CREDIT_READ)
@documented(
    "信用查询的平台签名快照（按字节原样，可离线核验）", ok="application/octet-stream", errors=("no_such_credit_check",)
)
def statement(check_id: int) -> Response:
    """The signed statement ``credit_check`` (canonical JSON: ``statement`` base64 of the signed
    bytes, ``signature``, ``signer_cert``); its SM3 is ``statement_sm3``."""
    return statement_response(check_id)


@api.get("/credit/proposals")
@requires(Permission.CREDIT_READ)
@documented("平台信用事件（待确认、已确认、已驳回）", ok=ProposalsOut, query=ProposalsQuery)
def proposals_list() -> Response:
    state = proposal_state(request.args.get("state", ""))
    return jsonify({"items": [proposal_out(p) for p in list_proposals(web.db(), state)]})


@api.get("/credit/proposals/<int:proposal_id>")
@requires(Permission.CREDIT_READ)
@documented("平台信用事件详情（及其证据事件）", ok=ProposalOut, errors=("no_such_credit_proposal",))
def proposal(proposal_id: int) -> Response:
    return jsonify(proposal_out(get_proposal(proposal_id)))


@api.post("/credit/proposals/<int:proposal_id>/confirm")
@requires(Permission.CREDIT_MANAGE)
@documented(
    "确认平台信用事件（生成本平台信用记录）",
    body=ConfirmIn,
    ok=ProposalOut,
    errors=("no_such_credit_proposal", "credit_proposal_decided", "credit_entry_differs"),
)
def confirm_route(proposal_id: int) -> Response:
    p = confirm(proposal_id, web.json_body(ConfirmIn))
    web.commit()
    return jsonify(proposal_out(p))


@api.post("/credit/proposals/<int:proposal_id>/dismiss")
@requires(Permission.CREDIT_MANAGE)
@documented(
    "驳回平台信用事件（须写明理由）",
    body=DismissIn,
    ok=ProposalOut,
    errors=("no_such_credit_proposal", "credit_proposal_decided"),
)
def dismiss_route(proposal_id: int) -> Response:
    p = dismiss(proposal_id, web.json_body(DismissIn).reason)
    web.commit()
    return jsonify(proposal_out(p))
