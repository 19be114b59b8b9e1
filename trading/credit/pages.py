"""The credit register's pages for staff and supervisors (信用记录管理).

- ``/credit``: the register, filtered by subject, list, a day it holds and revocation; each entry's
  page with the revoke form (CREDIT_MANAGE).
- ``/credit/import``: the upload of a list file; a refused file shows each bad row by number,
  field and reason, and nothing is written.
- ``/credit/proposals``: the platform's own credit events with links to their evidence events, and
  the confirm and dismiss forms (each with a reason).
- ``/credit/checks/<id>``: a signed check: what was looked up, the result, the entries found, the
  snapshot's SM3 and its download.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from archive import clock
from trading.accounts import web
from trading.accounts.form_errors import field_lines
from trading.accounts.permissions import Permission, has, requires
from trading.audit.labels import action_label
from trading.audit.pages import page_numbers
from trading.core.csrf import checks_own_csrf
from trading.core.errors import DomainError, InvalidInput
from trading.credit import api as ops
from trading.credit import checks, register
from trading.credit.formats import COLUMNS, MAX_BYTES, MAX_ROWS, TITLES
from trading.credit.imports import ImportRefused
from trading.credit.models import CreditEntry, CreditList, Measure, ProposalState
from trading.credit.rules import CATEGORIES, CATEGORY_LABELS, category_label, source_label
from trading.credit.schemas import ConfirmIn, DismissIn, RevokeIn

pages = Blueprint("credit", __name__, template_folder="templates")
UPLOAD_VIEW = "trading.credit.pages.import_submit"
checks_own_csrf(pages, UPLOAD_VIEW)  # a list file may be 5 MiB


@pages.app_template_filter("credit_category")
def category_filter(value: str | None) -> str:
    return category_label(value)


@pages.app_template_filter("local_day")
def local_day(iso: str) -> str:
    """An event's instant (ISO, UTC) as the Beijing day the audit page filters by."""
    try:
        return clock.local(dt.datetime.fromisoformat(iso)).date().isoformat()
    except ValueError:
        return iso[:10]


@pages.app_template_filter("audit_action")
def audit_action(code: str) -> str:
    return action_label(code)


@pages.app_template_filter("credit_state")
def state_filter(e: CreditEntry) -> str:
    return checks.state_of(e, clock.now())


@pages.get("/credit")
@requires(Permission.CREDIT_READ)
def list_page() -> ResponseReturnValue:
    args = {k: v for k, v in request.args.items() if isinstance(v, str)}
    try:
        filters = register.read_filters(args)
        page = web.query_int("page", 1, minimum=1)
    except InvalidInput as exc:
        html = render_template(
            "credit/entries.html", rows=[], total=0, page=1, links=[], form=args, lists=CreditList, error=exc.message
        )
        return html, exc.status
    rows, total, page, pages_ = register.find_entries(web.db(), filters, page)
    kept: dict[str, Any] = {k: v for k, v in args.items() if k in ("subject", "list", "in_force_on", "revoked") and v}
    return render_template(
        "credit/entries.html",
        rows=rows,
        total=total,
        page=page,
        links=[(n, n and url_for("credit.list_page", page=n, **kept)) for n in page_numbers(page, pages_, 5)],
        form=args,
        lists=CreditList,
        error="",
        manage=web.has_permission(Permission.CREDIT_MANAGE.value),
    )


@pages.get("/credit/entries/<int:entry_id>")
@requires(Permission.CREDIT_READ)
def entry_page(entry_id: int) -> str:
    e = ops.get_entry(entry_id)
    return render_template(
        "credit/entry.html",
        e=e,
        manage=web.has_permission(Permission.CREDIT_MANAGE.value),
        state_label=checks.state_of(e, clock.now()),
        source_label=source_label(e.source),
    )


@pages.post("/credit/entries/<int:entry_id>/revoke")
@requires(Permission.CREDIT_MANAGE)
def revoke_page(entry_id: int) -> ResponseReturnValue:
    web.form_step(lambda: ops.revoke(entry_id, web.form_body(RevokeIn).reason), "信用记录已撤销", "未撤销")
    return redirect(url_for("credit.entry_page", entry_id=entry_id))


def _import_form(**context: object) -> str:
    return render_template(
        "credit/import.html",
        columns=[(c, TITLES[c]) for c in COLUMNS],
        max_mib=MAX_BYTES // (1024 * 1024),
        max_rows=MAX_ROWS,
        lists=[k for k in CreditList if k is not CreditList.PLATFORM],
        measures=Measure,
        categories=[(c, CATEGORY_LABELS[c]) for c in CATEGORIES],
        titles=TITLES,
        **context,
    )


@pages.get("/credit/import")
@requires(Permission.CREDIT_MANAGE)
def import_page() -> str:
    return _import_form()


@pages.post("/credit/import")
@requires(Permission.CREDIT_MANAGE)
def import_submit() -> ResponseReturnValue:
    request.max_content_length = MAX_BYTES + ops.ENVELOPE
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        flash("未导入：页面已过期或缺少安全令牌，请刷新后重试")
        return redirect(url_for("credit.import_page"))
    try:
        outcome = ops.import_upload()
        web.commit()
    except ImportRefused as exc:
        web.db().rollback()
        return _import_form(error=exc.message, problems=exc.problems), exc.status
    except DomainError as exc:
        web.db().rollback()
        return _import_form(error=exc.message, lines=field_lines(exc)), exc.status
    r = outcome.record
    flash(f"导入完成：共 {r.rows} 条，新增 {r.added} 条，已有 {r.unchanged} 条（导入批次 {r.id}）")
    return redirect(url_for("credit.list_page"))


@pages.get("/credit/proposals")
@requires(Permission.CREDIT_READ)
def proposals_page() -> ResponseReturnValue:
    raw = request.args.get("state", "proposed")
    state = ProposalState(raw) if raw in {s.value for s in ProposalState} else None
    items = register.list_proposals(web.db(), state)
    return render_template(
        "credit/proposals.html",
        items=items,
        state=state.value if state else "",
        states=ProposalState,
        manage=has(web.current_user(), Permission.CREDIT_MANAGE),
        categories=[(c, CATEGORY_LABELS[c]) for c in CATEGORIES],
        measures=Measure,
    )


@pages.post("/credit/proposals/<int:proposal_id>/confirm")
@requires(Permission.CREDIT_MANAGE)
def confirm_page(proposal_id: int) -> ResponseReturnValue:
    web.form_step(lambda: ops.confirm(proposal_id, web.form_body(ConfirmIn)), "已确认，生成本平台信用记录", "未确认")
    return redirect(url_for("credit.proposals_page"))


@pages.post("/credit/proposals/<int:proposal_id>/dismiss")
@requires(Permission.CREDIT_MANAGE)
def dismiss_page(proposal_id: int) -> ResponseReturnValue:
    web.form_step(lambda: ops.dismiss(proposal_id, web.form_body(DismissIn).reason), "已驳回", "未驳回")
    return redirect(url_for("credit.proposals_page"))


@pages.get("/credit/checks/<int:check_id>")
@requires(Permission.CREDIT_READ)
def check_page(check_id: int) -> str:
    c = ops.get_check(check_id)
    return render_template("credit/check.html", c=ops.check_out(c))


@pages.get("/credit/checks/<int:check_id>/statement")
@requires(Permission.CREDIT_READ)
def check_statement_page(check_id: int) -> ResponseReturnValue:
    return ops.statement_response(check_id)
