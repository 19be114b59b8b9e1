"""Tender pages: the tender and announcement pages, and the forms of each role (tenderee or agency,
staff, bidders)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import select
from wtforms import ValidationError

from archive import clock
from trading.accounts import web
from trading.accounts.models import Organisation, OrgKind
from trading.accounts.permissions import Permission, requires
from trading.accounts.regions import known_regions
from trading.core.errors import DomainError, InvalidInput, NotFound
from trading.core.schemas import checked_text, parse
from trading.core.services import object_store, services
from trading.pki.trust import trust
from trading.procedures import operations as procs
from trading.procedures.scoring import SCORING_TEMPLATES
from trading.procedures.specialties import SPECIALTY_NAMES, specialty_label
from trading.tenders import amendments, drafting, notifications, publication, termination
from trading.tenders import documents as docs
from trading.tenders.downloads import stream_document
from trading.tenders.forms import (
    MAX_LOTS,
    LotsInvalid,
    blank_lot,
    change_rows,
    form_echo,
    form_from_tender,
    lot_rows,
    problems_for_people,
    row_settings,
    tender_from_form,
)
from trading.tenders.hooks import tender_page_context
from trading.tenders.loading import kek, load, visible_announcements
from trading.tenders.models import CATEGORY_LABELS, Announcement, AnnouncementState, Tender, TenderState
from trading.tenders.operations import deadline_problem
from trading.tenders.rules import document_kind
from trading.tenders.schemas import AmendmentIn, TenderIn, instant
from trading.tenders.timeline import tender_timelines

pages = Blueprint("tenders", __name__, template_folder="templates")
REGIONS = known_regions()


def _edit_form(
    form: dict[str, Any],
    tender: Tender | None,
    error: str = "",
    problems: list[str] | None = None,
    status: int = 200,
    lot_errors: dict[int, list[str]] | None = None,
) -> ResponseReturnValue:
    db = web.db()
    agencies = db.scalars(select(Organisation).where(Organisation.kind == OrgKind.AGENCY)).all()
    tenderees = db.scalars(select(Organisation).where(Organisation.kind == OrgKind.TENDEREE)).all()
    return render_template(
        "tenders/edit.html",
        form=form,
        tender=tender,
        kept=row_settings(form["lots"], tender),
        error=error,
        problems=problems or [],
        lot_errors=lot_errors or {},
        max_lots=MAX_LOTS,
        categories=CATEGORY_LABELS,
        procedures=procs.list_procedures(db),
        templates=SCORING_TEMPLATES,
        specialties={code: specialty_label(code) for code in SPECIALTY_NAMES},
        agencies=agencies,
        tenderees=tenderees,
        regions=REGIONS,
        region_codes={code for code, _ in REGIONS},
    ), status


def _save_form(tender: Tender | None, save: Callable[[TenderIn], Tender]) -> ResponseReturnValue:
    """The tender form's POST: a lot added or removed shows the form again (nothing saved); else
    ``save`` the tender it describes, or show the form with each error, per lot where it is one."""
    form = request.form
    try:
        rows = change_rows(form)
        if rows is not None:
            return _edit_form(form_echo(form, rows), tender)
        saved = save(tender_from_form(form, tender))
    except DomainError as exc:
        web.db().rollback()
        try:
            rows = lot_rows(form)
        except DomainError:
            rows = [blank_lot(1)]
        per_lot = exc.per_lot if isinstance(exc, LotsInvalid) else {}
        return _edit_form(form_echo(form, rows), tender, exc.message, problems_for_people(exc), exc.status, per_lot)
    web.commit()
    flash(f"已保存项目 {saved.code}" if tender else f"已创建项目 {saved.code}，请上传招标文件后提交审核")
    return redirect(url_for("tenders.tender_page", code=saved.code))


# ---------------------------------------------------------------- public
@pages.get("/announcements/<int:ann_id>")
@requires(Permission.PUBLIC)
def announcement_page(ann_id: int) -> str:
    ann = web.db().get(Announcement, ann_id)
    if ann is None:
        raise NotFound("公告不存在")
    tender = load(ann.tender.code)
    if ann not in visible_announcements(tender):
        raise NotFound("公告不存在")
    return render_template("tenders/announcement.html", ann=ann, tender=tender)


def _tender_page(tender: Tender, error: str = "", status: int = 200) -> ResponseReturnValue:
    db = web.db()
    user = web.current_user()
    manager = tender.can_manage(user)
    staff = web.has_permission("tender:tender:review")
    interest = (
        docs.get_interest(db, tender, user)
        if user is not None and web.has_permission("tender:interest:register")
        else None
    )
    documents = docs.current_documents(db, tender, include_pending=manager or web.has_permission("tender:tender:read"))
    pending = [a for a in tender.announcements if a.status is AnnouncementState.SUBMITTED]
    # the links later stages add (opening rooms, the deadline commitment, the publicity); a key
    # that collides with one below is a TypeError, not a silent override
    later: dict[str, Any] = {}
    for extra in tender_page_context(db, tender):
        later |= extra
    procedure = procs.get_procedure(db, tender.procedure_code)
    opening = procedure.sign_in_minutes + procedure.decryption_window_minutes + procedure.confirmation_minutes
    return render_template(
        "tenders/tender.html",
        **later,
        tender=tender,
        manager=manager,
        staff=staff,
        interest=interest,
        credit_check=docs.credit_finding(db, interest) if interest is not None else None,
        entry_text=docs.entry_text,
        documents=documents,
        announcements=visible_announcements(tender),
        questions=docs.questions_for(db, tender, user),
        pending=pending,
        procedure=procedure,
        timelines=tender_timelines(tender, later, clock.now(), opening),
        why=_why_not(tender, documents),
        document_kind=document_kind,
        opened=tender.deadline_passed(clock.now()),
        error=error,
        now=clock.now(),
        can_download=manager or interest is not None or web.has_permission("tender:tender:read"),
    ), status


def _why_not(tender: Tender, documents: list[Any]) -> dict[str, str | None]:
    """Why the buttons of the tender's present state may not be pressed now (None: they may)."""
    db = web.db()
    deadline = (
        deadline_problem(db, tender.procedure_code, clock.now(), tender.bid_deadline)
        if tender.status in (TenderState.DRAFT, TenderState.SUBMITTED)
        else None
    )
    return {"submit": deadline if documents else "请先上传招标文件并验签", "publish": deadline}


@pages.get("/tenders/<code>")
@requires(Permission.PUBLIC)
def tender_page(code: str) -> ResponseReturnValue:
    tender = load(code)
    web.commit()  # the deadline check may have closed bidding
    return _tender_page(tender)


@pages.get("/tenders/<code>/documents/<int:document_id>")
@requires(Permission.AUTHENTICATED)
def download(code: str, document_id: int) -> Response:
    return stream_document(load(code), document_id)


def _act(code: str, action: Any, done: str) -> ResponseReturnValue:
    """Run one operation for a tender-page form; show the error on the page with its status."""
    try:
        tender = load(code, for_update=True)
        action(tender)
    except DomainError as exc:
        web.db().rollback()
        return _tender_page(load(code), exc.message + "".join(f"（{v}）" for v in exc.fields.values()), exc.status)
    web.commit()
    flash(done)
    return redirect(url_for("tenders.tender_page", code=code))


def _reason() -> str:
    reason = (request.form.get("reason") or "").strip()
    if not 2 <= len(reason) <= 2000:
        raise InvalidInput("请填写理由（2–2000 字）", fields={"reason": "必填"})
    return checked_text(reason, "reason")


def _deadline(name: str) -> dt.datetime:
    """A datetime-local field (Beijing time) as an instant, bounded as the API's (``instant``)."""
    try:
        local = dt.datetime.fromisoformat(request.form.get(name, "").strip())
    except ValueError:
        raise InvalidInput("请填写截止时间", fields={name: "格式不正确"}) from None
    try:
        return instant(local.replace(tzinfo=clock.SHANGHAI))
    except ValueError as exc:
        raise InvalidInput(str(exc), fields={name: "超出范围"}) from None


# ---------------------------------------------------------------- tenderee / agency
@pages.get("/my/tenders")
@requires(Permission.TENDER_MANAGE)
def my_tenders() -> str:
    rows = drafting.managed_tenders(web.db(), web.require_user())
    return render_template("tenders/mine.html", tenders=rows)


@pages.get("/tenders/new")
@requires(Permission.TENDER_MANAGE)
def new_tender() -> ResponseReturnValue:
    later = clock.local(clock.now() + dt.timedelta(days=25)).replace(hour=9, minute=30)
    return _edit_form(
        {
            "bid_deadline": later.strftime("%Y-%m-%dT%H:%M"),
            "region": "350100",
            "procedure_code": "construction_open",
            "category": "construction",
            "bid_validity_days": 90,
            "lots": [blank_lot(1)],
        },
        None,
    )


@pages.post("/tenders/new")
@requires(Permission.TENDER_MANAGE)
def create_tender() -> ResponseReturnValue:
    return _save_form(None, lambda data: drafting.create_tender(web.db(), web.require_user(), data))


@pages.get("/tenders/<code>/edit")
@requires(Permission.TENDER_MANAGE)
def edit_tender(code: str) -> ResponseReturnValue:
    tender = load(code)
    if not tender.can_manage(web.current_user()):
        raise NotFound(f"招标项目 {code} 不存在")
    return _edit_form(form_from_tender(tender), tender)


@pages.post("/tenders/<code>/edit")
@requires(Permission.TENDER_MANAGE)
def update_tender(code: str) -> ResponseReturnValue:
    tender = load(code, for_update=True)
    return _save_form(tender, lambda data: drafting.update_tender(web.db(), web.require_user(), tender, data))


@pages.post("/tenders/<code>/documents")
@requires(Permission.TENDER_MANAGE)
def upload_document(code: str) -> ResponseReturnValue:
    # Large files: lift the body limit for this form only, then check CSRF ourselves (the global check
    # would parse the body under the small default limit). See trading/app.py.
    request.max_content_length = docs.MAX_DOCUMENT_BYTES + 1  # the store enforces the exact limit
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        return _tender_page(load(code), "页面已过期或缺少安全令牌，请刷新后重试", 400)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _tender_page(load(code), "请选择要上传的文件", 422)
    amendment_id = web.form_int("announcement_id")

    def do(tender: Tender) -> None:
        amendment = web.db().get(Announcement, amendment_id) if amendment_id else None
        docs.upload_document(
            web.db(),
            object_store(current_app),
            trust(),
            web.require_user(),
            tender,
            request.form.get("name") or upload.filename or "",
            upload.stream,
            request.form.get("signature", "").strip(),
            amendment,
        )

    return _act(code, do, "招标文件已上传并验签")


@pages.post("/tenders/<code>/submit")
@requires(Permission.TENDER_MANAGE)
def submit(code: str) -> ResponseReturnValue:
    return _act(code, lambda t: publication.submit_tender(web.db(), web.require_user(), t), "已提交交易中心审核")


@pages.post("/tenders/<code>/amendments")
@requires(Permission.TENDER_MANAGE)
def amend(code: str) -> ResponseReturnValue:
    def do(t: Tender) -> None:
        data = {
            "title": request.form.get("title", ""),
            "body": request.form.get("body", ""),
            "affects_bids": request.form.get("affects_bids") == "1",
        }
        if request.form.get("new_deadline"):
            data["new_deadline"] = _deadline("new_deadline").isoformat()
        amendments.draft_amendment(web.db(), web.require_user(), t, parse(AmendmentIn, data))

    return _act(code, do, "变更/澄清公告已提交审核")


@pages.post("/tenders/<code>/questions/<int:question_id>/answer")
@requires(Permission.TENDER_MANAGE)
def answer(code: str, question_id: int) -> ResponseReturnValue:
    return _act(
        code,
        lambda t: docs.answer_question(web.db(), web.require_user(), t, question_id, request.form.get("answer", "")),
        "答复已发布给所有报名投标人",
    )


@pages.post("/tenders/<code>/terminate")
@requires(Permission.AUTHENTICATED)
def terminate(code: str) -> ResponseReturnValue:
    return _act(code, lambda t: termination.terminate_tender(web.db(), web.require_user(), t, _reason()), "项目已终止")


# ---------------------------------------------------------------- staff
@pages.get("/review")
@requires(Permission.TENDER_REVIEW)
def review_page() -> str:
    db = web.db()
    tenders, anns = publication.review_queue(db)
    return render_template("tenders/review.html", tenders=tenders, anns=anns, questions=docs.unanswered(db))


@pages.post("/tenders/<code>/publish")
@requires(Permission.TENDER_REVIEW)
def publish(code: str) -> ResponseReturnValue:
    settings = services(current_app).settings
    return _act(code, lambda t: publication.publish_tender(web.db(), web.require_user(), t, settings), "招标公告已发布")


@pages.post("/tenders/<code>/return")
@requires(Permission.TENDER_REVIEW)
def return_(code: str) -> ResponseReturnValue:
    return _act(code, lambda t: publication.return_tender(web.db(), web.require_user(), t, _reason()), "已退回招标人")


@pages.post("/tenders/<code>/suspend")
@requires(Permission.TENDER_REVIEW)
def suspend(code: str) -> ResponseReturnValue:
    return _act(code, lambda t: termination.suspend_tender(web.db(), web.require_user(), t, _reason()), "项目已暂停")


@pages.post("/tenders/<code>/resume")
@requires(Permission.TENDER_REVIEW)
def resume(code: str) -> ResponseReturnValue:
    return _act(
        code,
        lambda t: termination.resume_tender(web.db(), web.require_user(), t, _deadline("new_deadline")),
        "项目已恢复",
    )


@pages.post("/tenders/<code>/announcements/<int:ann_id>/publish")
@requires(Permission.TENDER_REVIEW)
def publish_announcement(code: str, ann_id: int) -> ResponseReturnValue:
    def do(t: Tender) -> None:
        ann = web.db().get(Announcement, ann_id)
        if ann is None or ann.tender_id != t.id:
            raise NotFound("公告不存在")
        amendments.publish_announcement(web.db(), web.require_user(), ann)

    return _act(code, do, "公告已发布")


@pages.post("/tenders/<code>/announcements/<int:ann_id>/return")
@requires(Permission.TENDER_REVIEW)
def return_announcement(code: str, ann_id: int) -> ResponseReturnValue:
    def do(t: Tender) -> None:
        ann = web.db().get(Announcement, ann_id)
        if ann is None or ann.tender_id != t.id:
            raise NotFound("公告不存在")
        amendments.return_announcement(web.db(), web.require_user(), ann, _reason())

    return _act(code, do, "公告已退回")


# ---------------------------------------------------------------- bidders
@pages.post("/tenders/<code>/interest")
@requires(Permission.TENDER_PARTICIPATE)
def register(code: str) -> ResponseReturnValue:
    return _act(
        code,
        lambda t: docs.register_interest(
            web.db(),
            web.require_user(),
            t,
            kek=kek(),
            keys=services(current_app).keys,
            contact_name=request.form.get("contact_name", ""),
            contact_phone=request.form.get("contact_phone", ""),
        ),
        "报名成功，现在可以下载招标文件",
    )


@pages.post("/tenders/<code>/questions")
@requires(Permission.TENDER_PARTICIPATE)
def ask(code: str) -> ResponseReturnValue:
    return _act(
        code,
        lambda t: docs.ask_question(web.db(), web.require_user(), t, request.form.get("text", ""), kek=kek()),
        "问题已提交，答复将发布给所有报名投标人（不显示提问人）",
    )


@pages.get("/my/notifications")
@requires(Permission.AUTHENTICATED)
def my_notifications() -> str:
    user = web.require_user()
    rows = notifications.for_org(web.db(), user.organisation_id, 100) if user.organisation_id else []
    return render_template("tenders/notifications.html", rows=rows)
