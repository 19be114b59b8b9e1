"""The complaints JSON API (投诉): file, accept or refuse, suspend and resume, statements, decide.

A bidder files with ``multipart/form-data``: the part ``complaint`` is the signed complaint (JSON,
``ComplaintIn``: what ``ggzy-bid complaints file`` signs and sends), each part ``evidence`` one
evidence file listed in it. The department (COMPLAINT_HANDLE) acts; the department and staff
(SUPERVISION_READ) read every complaint; a complainant reads its own and an asked party the ones it
was asked about (``trading.supervision.complaint_documents.reader_role``); anyone else gets 404.
"""

from __future__ import annotations

import datetime as dt
from typing import IO, Any
from urllib.parse import quote

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive import clock
from archive.db import locked
from signing.digest import sm3_hex
from signing.statements import COMPLAINT_MAX_TOTAL_BYTES
from trading.accounts import web
from trading.accounts.models import Organisation, User
from trading.accounts.permissions import Permission, requires
from trading.core.apispec import documented
from trading.core.errors import InvalidInput, NotFound, StoredObjectDamaged, UnsupportedMediaType
from trading.core.schemas import load_json, parse
from trading.core.services import services
from trading.pki.trust import trust
from trading.supervision import complaint_statements as statements
from trading.supervision import complaints as ops
from trading.supervision.complaint_documents import (
    FILE_KINDS,
    complaint_files,
    complaints_for,
    file_readable,
    reader_role,
    requests_for,
    statement_requests,
)
from trading.supervision.complaint_filing import file_complaint
from trading.supervision.complaint_rules import MATTERS
from trading.supervision.complaint_schemas import (
    AnswerIn,
    AskIn,
    ComplaintIn,
    ComplaintOut,
    ComplaintsOut,
    ComplaintsQuery,
    DecideIn,
    NoteIn,
    ReasonIn,
    ResumeIn,
    StatementRequestOut,
    StatementRequestsOut,
)
from trading.supervision.models import Complaint, ComplaintFile, ComplaintState, StatementRequest
from trading.supervision.rulebook import limit_due
from trading.tenders.models import Lot, Tender

api = Blueprint("complaints_api", __name__, url_prefix="/api/v1")

#: the signed complaint (JSON) is at most this long: grounds and requests are bounded well below it
MAX_COMPLAINT_JSON = 256 * 1024
ACT_ERRORS = ("no_such_complaint", "complaint_transition", "wrong_state")


# ---------------------------------------------------------------- shapes
def iso(value: dt.datetime | None) -> str | None:
    return clock.as_utc(value).isoformat() if value is not None else None


def statement_json(session: Session, r: StatementRequest, number: str) -> dict[str, Any]:
    org = session.get(Organisation, r.org_id)
    return {
        "id": r.id,
        "complaint": r.complaint_id,
        "number": number,
        "org": r.org_id,
        "org_name": org.name if org else "",
        "question": r.question,
        "asked_at": iso(r.asked_at),
        "due_at": iso(r.due_at),
        "answer": r.answer,
        "answered_at": iso(r.answered_at),
    }


def complaint_json(session: Session, c: Complaint, user: User, role: str) -> dict[str, Any]:
    """A complaint as ``user`` (reading as ``role``) may see it: the complainant named only to the
    department, staff and itself before the deadline; files and statements by addressee."""
    tender = session.get(Tender, c.tender_id)
    assert tender is not None
    lot = session.get(Lot, c.lot_id) if c.lot_id else None
    now = clock.now()
    org = session.get(Organisation, c.complainant_org_id)
    named = role in ("handler", "complainant") or tender.deadline_passed(now)
    files = [f for f in complaint_files(session, c.id) if file_readable(role, user, f, tender, now)]
    asked = [r for r in statement_requests(session, c.id) if role == "handler" or r.org_id == user.organisation_id]
    return {
        "id": c.id,
        "number": c.number,
        "kind": c.kind.value,
        "kind_label": c.kind.label,
        "matter": c.matter,
        "matter_label": MATTERS.get(c.matter, c.matter),
        "tender": tender.code,
        "tender_title": tender.title,
        "lot": lot.number if lot else None,
        "complainant": (org.name if org else "") if named else "（投标截止前不公开）",
        "objection": c.objection_ref,
        "grounds": c.grounds,
        "requests": c.requests,
        "state": c.state.value,
        "state_label": c.state.label,
        "filed_at": iso(c.filed_at),
        "acceptance_due": iso(limit_due(session, f"complaint_accept_{c.kind.value}", c.filed_at)),
        "accepted_at": iso(c.accepted_at),
        # 30 working days from receipt (财政部令第94号第二十六条; 七部委令第11号第十一条: 收到投诉书之日即为正式受理)
        "decision_due": iso(limit_due(session, f"complaint_decide_{c.kind.value}", c.filed_at))
        if c.accepted_at
        else None,
        "refused_at": iso(c.refused_at),
        "refusal_reason": c.refusal_reason,
        "suspended": ops.is_suspended(c),
        "suspended_at": iso(c.suspended_at),
        "resumed_at": iso(c.resumed_at),
        "decided_at": iso(c.decided_at),
        "finding": c.finding.value if c.finding else None,
        "finding_label": c.finding.label if c.finding else None,
        "decision": c.decision,
        "measures": c.measures,
        "files": [
            {
                "id": f.id,
                "kind": f.kind,
                "kind_label": FILE_KINDS.get(f.kind, f.kind),
                "name": f.name,
                "sm3": f.sm3,
                "size": f.size,
                "created_at": iso(f.created_at),
                "signed": f.signature is not None,
            }
            for f in files
        ],
        "statements": [statement_json(session, r, c.number) for r in asked],
    }


def summaries(session: Session, items: list[Complaint]) -> list[dict[str, Any]]:
    """A list's rows (``ComplaintSummaryOut``): nothing that names the complainant."""
    lots = {
        x.id: x.number for x in session.scalars(select(Lot).where(Lot.id.in_({c.lot_id for c in items if c.lot_id})))
    }
    q = select(Tender.id, Tender.code).where(Tender.id.in_({c.tender_id for c in items}))
    codes = {i: code for i, code in session.execute(q)}
    return [
        {
            "id": c.id,
            "number": c.number,
            "kind": c.kind.value,
            "matter": c.matter,
            "matter_label": MATTERS.get(c.matter, c.matter),
            "tender": codes[c.tender_id],
            "lot": lots.get(c.lot_id) if c.lot_id else None,
            "state": c.state.value,
            "state_label": c.state.label,
            "filed_at": iso(c.filed_at),
            "suspended": ops.is_suspended(c),
        }
        for c in items
    ]


# ---------------------------------------------------------------- loading
def readable(complaint_id: int, *, for_update: bool = False) -> tuple[Complaint, User, str]:
    """The complaint, its reader and the reader's role; 404 to anyone who may not read it."""
    db, user = web.db(), web.require_user()
    q = select(Complaint).where(Complaint.id == complaint_id)
    c = db.scalar(locked(q) if for_update else q)
    role = reader_role(db, user, c) if c is not None else None
    if c is None or role is None:
        raise NotFound("投诉不存在", code="no_such_complaint")
    return c, user, role


def answer_with(c: Complaint, user: User, role: str, status: int = 200) -> tuple[Response, int]:
    web.commit()
    return jsonify(complaint_json(web.db(), c, user, role)), status


def read_filing() -> tuple[ComplaintIn, list[IO[bytes]]]:
    """The filing's parts: the signed complaint (a field or a file part) and the evidence files."""
    request.max_content_length = COMPLAINT_MAX_TOTAL_BYTES + MAX_COMPLAINT_JSON + (64 << 10)
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType(
            "请以 multipart/form-data 提交：complaint（签名的投诉书 JSON）和 evidence（证明材料）"
        )
    part = request.files.get("complaint")
    raw = part.stream.read(MAX_COMPLAINT_JSON + 1) if part is not None else request.form.get("complaint", "").encode()
    if not raw:
        raise InvalidInput("缺少签名的投诉书（complaint）", fields={"complaint": "必填"})
    if len(raw) > MAX_COMPLAINT_JSON:
        raise InvalidInput("投诉书过长", fields={"complaint": "过长"})
    data = parse(ComplaintIn, load_json(raw))
    return data, [f.stream for f in request.files.getlist("evidence")]


def file_from_request() -> Complaint:
    """File the complaint the request carries (the API and the page alike); not committed."""
    data, evidence = read_filing()
    return file_complaint(web.db(), services(current_app), trust(), web.require_user(), data, evidence)


# ---------------------------------------------------------------- the complainant
@api.post("/complaints")
@requires(Permission.COMPLAINT_FILE)
@documented(
    "提出投诉（签名的投诉书与证明材料）",
    raw="multipart/form-data",
    ok=ComplaintOut,
    status=201,
    errors=(
        "not_an_interested_party",
        "certificate_missing",
        "invalid_signature",
        "objection_first",
        "objection_pending",
        "complaint_late",
        "complaint_open",
        "evidence_mismatch",
        "evidence_too_large",
        "unsupported_media_type",
        "malformed_json",
        "invalid_input",
        "http_413",
    ),
)
def file_new() -> tuple[Response, int]:
    """Parts: ``complaint`` (the JSON of ``ComplaintIn``, signed over ``complaint_statement``) and
    one ``evidence`` part per listed file (matched by SM3 and size)."""
    c = file_from_request()
    return answer_with(c, web.require_user(), "complainant", 201)


@api.post("/complaints/<int:complaint_id>/withdraw")
@requires(Permission.COMPLAINT_FILE)
@documented("撤回投诉（处理决定作出前）", body=ReasonIn, ok=ComplaintOut, errors=(*ACT_ERRORS, "forbidden"))
def withdraw(complaint_id: int) -> tuple[Response, int]:
    c, user, role = readable(complaint_id, for_update=True)
    ops.withdraw_complaint(web.db(), services(current_app), user, c, web.json_body(ReasonIn).reason)
    return answer_with(c, user, role)


# ---------------------------------------------------------------- reading
@api.get("/complaints")
@requires(Permission.AUTHENTICATED)
@documented("投诉列表（监督部门：全部；投诉人、被要求说明的当事人：本单位的）", ok=ComplaintsOut, query=ComplaintsQuery)
def list_complaints() -> Response:
    raw = request.args.get("state") or None
    try:
        state = ComplaintState(raw) if raw else None
    except ValueError:
        raise InvalidInput("投诉状态无效", fields={"state": "、".join(s.value for s in ComplaintState)}) from None
    return jsonify({"items": summaries(web.db(), complaints_for(web.db(), web.require_user(), state))})


@api.get("/complaints/<int:complaint_id>")
@requires(Permission.AUTHENTICATED)
@documented("投诉详情", ok=ComplaintOut, errors=("no_such_complaint",))
def show(complaint_id: int) -> Response:
    c, user, role = readable(complaint_id)
    return jsonify(complaint_json(web.db(), c, user, role))


def readable_file(complaint_id: int, file_id: int) -> ComplaintFile:
    c, user, role = readable(complaint_id)
    db = web.db()
    f = db.get(ComplaintFile, file_id)
    tender = db.get(Tender, c.tender_id)
    assert tender is not None
    if f is None or f.complaint_id != c.id or not file_readable(role, user, f, tender, clock.now()):
        raise NotFound("文件不存在", code="no_such_complaint")
    return f


def file_response(complaint_id: int, file_id: int) -> Response:
    """A file's bytes, checked against its SM3 before they leave (the API and the page alike)."""
    f = readable_file(complaint_id, file_id)
    data = services(current_app).store.read_bytes(f.object_key)
    if sm3_hex(data) != f.sm3:
        raise StoredObjectDamaged("平台保存的文件已损坏，暂不能下载")
    pdf = f.kind != "evidence"
    fallback = f"complaint-{f.complaint_id}-{f.id}" + (".pdf" if pdf else ".bin")
    return Response(
        data,
        mimetype="application/pdf" if pdf else "application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(f.name, safe='')}"
        },
    )


def signature_response(complaint_id: int, file_id: int) -> Response:
    """The platform's signed statement ``complaint_document`` over a document, byte for byte."""
    f = readable_file(complaint_id, file_id)
    if f.signature is None:
        raise NotFound("证明材料由投诉人签名（见投诉书），没有平台签名文件", code="no_such_complaint")
    return Response(
        f.signature.encode(),
        mimetype="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="complaint-{f.complaint_id}-{f.id}.sig"'},
    )


@api.get("/complaints/<int:complaint_id>/files/<int:file_id>")
@requires(Permission.AUTHENTICATED)
@documented("下载投诉文书或证明材料（按 SM3 校验后发出）", ok="application/octet-stream", errors=("no_such_complaint",))
def download(complaint_id: int, file_id: int) -> Response:
    return file_response(complaint_id, file_id)


@api.get("/complaints/<int:complaint_id>/files/<int:file_id>/sig")
@requires(Permission.AUTHENTICATED)
@documented("投诉文书的平台签名文件（按字节原样核验）", ok="application/octet-stream", errors=("no_such_complaint",))
def signature(complaint_id: int, file_id: int) -> Response:
    """Canonical JSON ``statement`` (base64 of the signed bytes: type complaint_document, signed_at,
    body with complaint, step, tender, lot, ``pdf_sm3`` and issued_at), ``signature`` (SM2, DER,
    base64) and ``signer_cert`` (DER, base64)."""
    return signature_response(complaint_id, file_id)


# ---------------------------------------------------------------- the department
def act(complaint_id: int, step: Any) -> tuple[Response, int]:
    c, user, role = readable(complaint_id, for_update=True)
    step(web.db(), services(current_app), user, c)
    return answer_with(c, user, role)


@api.post("/complaints/<int:complaint_id>/accept")
@requires(Permission.COMPLAINT_HANDLE)
@documented("受理投诉（签发受理通知书）", body=NoteIn, ok=ComplaintOut, errors=ACT_ERRORS)
def accept(complaint_id: int) -> tuple[Response, int]:
    note = web.json_body(NoteIn).note
    return act(complaint_id, lambda db, sv, u, c: ops.accept_complaint(db, sv, u, c, note))


@api.post("/complaints/<int:complaint_id>/refuse")
@requires(Permission.COMPLAINT_HANDLE)
@documented("不予受理投诉（书面说明理由）", body=ReasonIn, ok=ComplaintOut, errors=ACT_ERRORS)
def refuse(complaint_id: int) -> tuple[Response, int]:
    reason = web.json_body(ReasonIn).reason
    return act(complaint_id, lambda db, sv, u, c: ops.refuse_complaint(db, sv, u, c, reason))


@api.post("/complaints/<int:complaint_id>/suspend")
@requires(Permission.COMPLAINT_HANDLE)
@documented(
    "责令暂停招标投标（采购）活动",
    body=ReasonIn,
    ok=ComplaintOut,
    errors=(*ACT_ERRORS, "complaint_suspended", "nothing_to_suspend", "lot_suspended", "lot_not_suspendable"),
)
def suspend(complaint_id: int) -> tuple[Response, int]:
    reason = web.json_body(ReasonIn).reason
    return act(complaint_id, lambda db, sv, u, c: ops.suspend_procedure(db, sv, u, c, reason))


@api.post("/complaints/<int:complaint_id>/resume")
@requires(Permission.COMPLAINT_HANDLE)
@documented(
    "解除暂停（截止前暂停的项目须给出新的投标截止时间）",
    body=ResumeIn,
    ok=ComplaintOut,
    errors=("no_such_complaint", "complaint_not_suspended", "bad_deadline", "tender_transition", "wrong_state"),
)
def resume(complaint_id: int) -> tuple[Response, int]:
    deadline = web.json_body(ResumeIn).new_deadline
    return act(complaint_id, lambda db, sv, u, c: ops.resume_procedure(db, sv, u, c, deadline))


@api.post("/complaints/<int:complaint_id>/ask")
@requires(Permission.COMPLAINT_HANDLE)
@documented("要求当事人书面说明", body=AskIn, ok=ComplaintOut, status=201, errors=(*ACT_ERRORS, "not_a_party"))
def ask(complaint_id: int) -> tuple[Response, int]:
    data = web.json_body(AskIn)
    c, user, role = readable(complaint_id, for_update=True)
    statements.ask_statement(web.db(), services(current_app), user, c, data.org, data.question)
    return answer_with(c, user, role, 201)


@api.post("/complaints/<int:complaint_id>/decide")
@requires(Permission.COMPLAINT_HANDLE)
@documented("作出投诉处理决定（属实、部分属实、不属实）", body=DecideIn, ok=ComplaintOut, errors=ACT_ERRORS)
def decide(complaint_id: int) -> tuple[Response, int]:
    d = web.json_body(DecideIn)
    return act(complaint_id, lambda db, sv, u, c: ops.decide_complaint(db, sv, u, c, d.finding, d.decision, d.measures))


# ---------------------------------------------------------------- parties
@api.get("/complaint-statements")
@requires(Permission.AUTHENTICATED)
@documented("本单位被要求就投诉作出的说明", ok=StatementRequestsOut)
def my_statements() -> Response:
    db = web.db()
    items = requests_for(db, web.require_user())
    q = select(Complaint.id, Complaint.number).where(Complaint.id.in_({r.complaint_id for r in items}))
    numbers = {i: number for i, number in db.execute(q)}
    return jsonify({"items": [statement_json(db, r, numbers[r.complaint_id]) for r in items]})


def answer_request(request_id: int, text: str) -> StatementRequest:
    """Answer the request (the API and the page alike); not committed. 404 to any other organisation."""
    db, user = web.db(), web.require_user()
    r = db.scalar(locked(select(StatementRequest).where(StatementRequest.id == request_id)))
    if r is None or r.org_id != user.organisation_id:
        raise NotFound("说明要求不存在", code="no_such_complaint")
    return statements.answer_statement(db, services(current_app), user, r, text)


@api.post("/complaint-statements/<int:request_id>/answer")
@requires(Permission.AUTHENTICATED)
@documented(
    "提交书面说明",
    body=AnswerIn,
    ok=StatementRequestOut,
    errors=("no_such_complaint", "already_answered", "wrong_state"),
)
def answer(request_id: int) -> Response:
    text = web.json_body(AnswerIn).text
    r = answer_request(request_id, text)
    web.commit()
    c = web.db().get(Complaint, r.complaint_id)
    assert c is not None
    return jsonify(statement_json(web.db(), r, c.number))
