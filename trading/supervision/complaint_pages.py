"""The complaint pages (投诉): the complainant's, the parties' and the supervisor's.

- ``/complaints``: the department's queue (by state) for SUPERVISION_READ; for everyone else its
  organisation's complaints and the statements it was asked for.
- ``/complaints/new``: how to sign a complaint with ``ggzy-bid``, and the upload of the signed
  complaint with its evidence (the same multipart filing as the API).
- ``/complaints/<id>``: the complaint, its documents (PDF and signature) and, by role, the forms:
  accept, refuse, suspend, resume, ask, decide (the department); withdraw (the complainant);
  answer (an asked party). Every irreversible form asks for confirmation (``data-confirm``).
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from archive import clock
from trading.accounts import web
from trading.accounts.models import Organisation
from trading.accounts.permissions import Permission, has, requires
from trading.core.csrf import checks_own_csrf
from trading.core.errors import InvalidInput
from trading.core.services import services
from trading.supervision import complaint_statements as statements
from trading.supervision import complaints as ops
from trading.supervision.complaint_documents import complaints_for, requests_for
from trading.supervision.complaint_rules import MATTERS
from trading.supervision.complaint_schemas import AskIn, DecideIn, NoteIn, ReasonIn
from trading.supervision.complaints_api import (
    answer_request,
    complaint_json,
    file_from_request,
    file_response,
    readable,
    signature_response,
    statement_json,
    summaries,
)
from trading.supervision.models import Complaint, ComplaintState, Finding
from trading.tenders.schemas import instant

pages = Blueprint("complaints", __name__, template_folder="templates")
FILE_VIEW = "trading.supervision.complaint_pages.file_submit"
checks_own_csrf(pages, FILE_VIEW)  # the filing carries up to 50 MiB of evidence


@pages.get("/complaints")
@requires(Permission.AUTHENTICATED)
def list_page() -> str:
    db, user = web.db(), web.require_user()
    raw = request.args.get("state", "")
    state = ComplaintState(raw) if raw in {s.value for s in ComplaintState} else None
    items = summaries(db, complaints_for(db, user, state))
    numbers = {c["id"]: c["number"] for c in items}
    asked = [statement_json(db, r, numbers.get(r.complaint_id, "")) for r in requests_for(db, user)]
    return render_template(
        "supervision/complaint_list.html",
        items=items,
        asked=asked,
        state=state.value if state else "",
        states=ComplaintState,
        handler=has(user, Permission.SUPERVISION_READ),
        can_file=has(user, Permission.COMPLAINT_FILE),
    )


@pages.get("/complaints/new")
@requires(Permission.COMPLAINT_FILE)
def new_page() -> str:
    return render_template("supervision/complaint_new.html", matters=MATTERS)


@pages.post("/complaints/new")
@requires(Permission.COMPLAINT_FILE)
def file_submit() -> ResponseReturnValue:
    done: list[Complaint] = []
    request.max_content_length = 60 << 20  # read_filing sets the exact bound before the form is parsed
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        flash("未提交：页面已过期或缺少安全令牌，请刷新后重试")
        return redirect(url_for("complaints.new_page"))
    if web.form_step(lambda: done.append(file_from_request()), "投诉已提交，行政监督部门将审查是否受理", "未提交"):
        return redirect(url_for("complaints.detail_page", complaint_id=done[0].id))
    return redirect(url_for("complaints.new_page"))


@pages.get("/complaints/<int:complaint_id>")
@requires(Permission.AUTHENTICATED)
def detail_page(complaint_id: int) -> str:
    c, user, role = readable(complaint_id)
    db = web.db()
    now = clock.now()
    return render_template(
        "supervision/complaint.html",
        c=complaint_json(db, c, user, role),
        role=role,
        handle=has(user, Permission.COMPLAINT_HANDLE),
        parties=_party_names(c, now) if has(user, Permission.COMPLAINT_HANDLE) else [],
        findings=Finding,
        my_org=user.organisation_id,
    )


@pages.get("/complaints/<int:complaint_id>/files/<int:file_id>")
@requires(Permission.AUTHENTICATED)
def file_page(complaint_id: int, file_id: int) -> ResponseReturnValue:
    return file_response(complaint_id, file_id)


@pages.get("/complaints/<int:complaint_id>/files/<int:file_id>/sig")
@requires(Permission.AUTHENTICATED)
def signature_page(complaint_id: int, file_id: int) -> ResponseReturnValue:
    return signature_response(complaint_id, file_id)


def _party_names(c: Complaint, now: dt.datetime) -> list[tuple[int, str]]:
    db = web.db()
    return [(o, org.name if (org := db.get(Organisation, o)) else str(o)) for o in statements.parties(db, c, now)]


def _deadline_field() -> dt.datetime | None:
    """The form's datetime-local (Beijing time) as an instant, bounded as the API's."""
    raw = request.form.get("new_deadline", "").strip()
    if not raw:
        return None
    try:
        return instant(dt.datetime.fromisoformat(raw).replace(tzinfo=clock.SHANGHAI))
    except ValueError as exc:
        raise InvalidInput(f"新的投标截止时间无效：{exc}", fields={"new_deadline": "格式不正确"}) from None


#: the department's forms: what each does, and the words flashed when it went through
ACTIONS: dict[str, str] = {
    "accept": "已受理，受理通知书已签发",
    "refuse": "已决定不予受理，通知书已签发",
    "suspend": "已暂停招标投标（采购）活动",
    "resume": "已解除暂停",
    "ask": "已要求当事人说明",
    "decide": "已作出处理决定，决定书已签发",
}


def _department_step(action: str, c: Complaint) -> None:
    db, user, sv = web.db(), web.require_user(), services(current_app)
    if action == "accept":
        ops.accept_complaint(db, sv, user, c, web.form_body(NoteIn).note)
    elif action == "refuse":
        ops.refuse_complaint(db, sv, user, c, web.form_body(ReasonIn).reason)
    elif action == "suspend":
        ops.suspend_procedure(db, sv, user, c, web.form_body(ReasonIn).reason)
    elif action == "resume":
        ops.resume_procedure(db, sv, user, c, _deadline_field())
    elif action == "ask":
        a = web.form_body(AskIn)
        statements.ask_statement(db, sv, user, c, a.org, a.question)
    else:
        d = web.form_body(DecideIn)
        ops.decide_complaint(db, sv, user, c, d.finding, d.decision, d.measures)


@pages.post("/complaints/<int:complaint_id>/act/<action>")
@requires(Permission.COMPLAINT_HANDLE)
def act_page(complaint_id: int, action: str) -> ResponseReturnValue:
    if action not in ACTIONS:
        flash("未完成：没有这项操作")
        return _back(complaint_id)

    def step() -> None:
        c, _user, _role = readable(complaint_id, for_update=True)
        _department_step(action, c)

    web.form_step(step, ACTIONS[action], "未完成")
    return _back(complaint_id)


@pages.post("/complaints/<int:complaint_id>/withdraw")
@requires(Permission.COMPLAINT_FILE)
def withdraw_page(complaint_id: int) -> ResponseReturnValue:
    def step() -> None:
        c, user, _role = readable(complaint_id, for_update=True)
        ops.withdraw_complaint(web.db(), services(current_app), user, c, web.form_body(ReasonIn).reason)

    web.form_step(step, "投诉已撤回", "未撤回")
    return _back(complaint_id)


@pages.post("/complaint-statements/<int:request_id>/answer")
@requires(Permission.AUTHENTICATED)
def answer_page(request_id: int) -> ResponseReturnValue:
    done: list[int] = []

    def step() -> None:
        done.append(answer_request(request_id, request.form.get("text", "")).complaint_id)

    web.form_step(step, "说明已提交", "未提交")
    return _back(done[0]) if done else redirect(url_for("complaints.list_page"))


def _back(complaint_id: int) -> ResponseReturnValue:
    return redirect(url_for("complaints.detail_page", complaint_id=complaint_id))
