"""Tender pages: the public portal, tender and announcement pages, and the forms of each role."""

from __future__ import annotations

import datetime as dt
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
from trading.core.errors import DomainError, InvalidInput, NotFound
from trading.core.schemas import parse
from trading.core.services import object_store, services
from trading.pki.trust import trust
from trading.procedures import operations as procs
from trading.tenders import documents as docs
from trading.tenders import notifications, portal
from trading.tenders import operations as ops
from trading.tenders.loading import kek, load, portal_query, stream_document, visible_announcements
from trading.tenders.models import (
    CATEGORY_LABELS,
    KIND_LABELS,
    STATE_LABELS,
    Announcement,
    AnnouncementState,
    Tender,
)
from trading.tenders.schemas import AmendmentIn, TenderIn

pages = Blueprint("tenders", __name__)


def _deadline_commitment(db: Any, tender: Tender) -> dict[str, Any] | None:
    from trading.opening.display import deadline_commitment

    return deadline_commitment(db, tender)


def ceremony_rooms(db: Any, tender: Tender) -> dict[int, Any]:
    """Each lot's opening room (made at publication), for the link on the tender page."""
    from trading.opening.ceremonies import ceremonies_of  # the opening builds on tenders, not back

    return {c.lot_id: c for c in ceremonies_of(db, tender)}


def publicised_evaluations(db: Any, tender: Tender) -> dict[int, Any]:
    """Each lot's evaluation once its candidates are public (publicity or awarded), for the link."""
    from sqlalchemy import select

    from trading.evaluation.models import EvalState, Evaluation  # evaluation builds on tenders, not back

    lots = [lot.id for lot in tender.lots]
    q = select(Evaluation).where(
        Evaluation.lot_id.in_(lots), Evaluation.state.in_([EvalState.PUBLICITY, EvalState.AWARDED])
    )
    return {ev.lot_id: ev for ev in db.scalars(q)}


TEMPLATES: dict[str, dict[str, Any]] = {
    "construction": {
        "label": "综合评估法：施工组织设计50 + 项目管理机构10 + 投标报价40（基准价法）",
        "method": "comprehensive",
        "criteria": {
            "compliance": ["营业执照", "资质证书", "安全生产许可证"],
            "factors": [
                {"name": "施工组织设计", "weight": 50},
                {"name": "项目管理机构", "weight": 10, "objective": True},
            ],
            "price": {"formula": "benchmark", "weight": 40},
        },
    },
    "gp_goods": {
        "label": "政府采购货物综合评分：技术40 + 商务20 + 价格40（低价优先法）",
        "method": "comprehensive",
        "criteria": {
            "compliance": ["资格证明文件"],
            "factors": [
                {"name": "技术参数响应", "weight": 40},
                {"name": "商务及售后服务", "weight": 20, "objective": True},
            ],
            "price": {"formula": "gp_low_price", "weight": 40},
        },
    },
    "gp_services": {
        "label": "政府采购服务综合评分：服务方案60 + 业绩15 + 价格25（低价优先法）",
        "method": "comprehensive",
        "criteria": {
            "compliance": ["资格证明文件"],
            "factors": [{"name": "服务方案", "weight": 60}, {"name": "类似业绩", "weight": 15, "objective": True}],
            "price": {"formula": "gp_low_price", "weight": 25},
        },
    },
    "lowest": {
        "label": "经评审的最低投标价法",
        "method": "lowest_price",
        "criteria": {
            "compliance": ["营业执照", "资质证书"],
            "factors": [],
            "price": {"formula": "lowest", "weight": 100},
        },
    },
}


def _form_to_tender(form: Any) -> TenderIn:
    """The page form has one lot; more lots go through the API."""
    template = TEMPLATES.get(form.get("template", ""))
    if template is None:
        raise InvalidInput("请选择评标办法模板", fields={"template": "必选"})
    deadline = form.get("bid_deadline", "")
    data: dict[str, Any] = {
        k: form.get(k) for k in ("title", "description", "category", "procedure_code", "region", "announcement_body")
    }
    data["bid_deadline"] = f"{deadline}:00+08:00" if len(deadline) == 16 else deadline  # datetime-local, Beijing
    data["bid_validity_days"] = form.get("bid_validity_days") or 90
    for key in ("agency_org_id", "tenderee_org_id"):
        if form.get(key):
            data[key] = form.get(key)
    data["lots"] = [
        {
            "name": form.get("lot_name"),
            "estimated_price": form.get("estimated_price"),
            "bond_amount": form.get("bond_amount"),
            "evaluation_method": template["method"],
            "criteria": template["criteria"],
            "committee_size": form.get("committee_size") or 5,
            "specialties": [{"code": form.get("specialty_code") or "A01", "count": form.get("specialty_count") or 4}],
            "price_fields": [{"name": "duration_days", "label": "工期（日历天）", "kind": "integer"}],
            "guarantee_sealed": form.get("guarantee_sealed") == "1",
        }
    ]
    return parse(TenderIn, {k: v for k, v in data.items() if v not in (None, "")})


def _form_from_tender(t: Tender) -> dict[str, Any]:
    lot = t.lots[0]
    template = next((k for k, v in TEMPLATES.items() if v["criteria"] == lot.criteria), "construction")
    ann = ops.tender_announcement(t)
    return {
        "title": t.title,
        "description": t.description,
        "category": t.category.value,
        "procedure_code": t.procedure_code,
        "region": t.region,
        "bid_deadline": clock.local(t.bid_deadline).strftime("%Y-%m-%dT%H:%M"),
        "bid_validity_days": t.bid_validity_days,
        "announcement_body": ann.body,
        "agency_org_id": t.agency_org_id or "",
        "lot_name": lot.name,
        "estimated_price": lot.estimated_price,
        "bond_amount": lot.bond_amount,
        "template": template,
        "committee_size": lot.committee_size,
        "specialty_code": lot.specialties[0]["code"],
        "specialty_count": lot.specialties[0]["count"],
        "guarantee_sealed": lot.guarantee_sealed,
    }


def _edit_form(
    form: dict[str, Any],
    tender: Tender | None,
    error: str = "",
    fields: dict[str, str] | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    db = web.db()
    agencies = db.scalars(select(Organisation).where(Organisation.kind == OrgKind.AGENCY)).all()
    tenderees = db.scalars(select(Organisation).where(Organisation.kind == OrgKind.TENDEREE)).all()
    return render_template(
        "tenders/edit.html",
        form=form,
        tender=tender,
        error=error,
        fields=fields or {},
        categories=CATEGORY_LABELS,
        procedures=procs.list_procedures(db),
        templates=TEMPLATES,
        agencies=agencies,
        tenderees=tenderees,
    ), status


# ---------------------------------------------------------------- public
@pages.get("/portal")
@requires(Permission.PUBLIC)
def portal_page() -> ResponseReturnValue:
    try:
        pq = portal_query(request.args)
    except DomainError as exc:
        return render_template(
            "tenders/portal.html",
            rows=[],
            more=False,
            pq=None,
            args=request.args,
            error=exc.message,
            categories=CATEGORY_LABELS,
            states=STATE_LABELS,
            kinds=KIND_LABELS,
        ), 422
    rows, more = portal.search(web.db(), pq)
    return render_template(
        "tenders/portal.html",
        rows=rows,
        more=more,
        pq=pq,
        args=request.args,
        error="",
        categories=CATEGORY_LABELS,
        states=STATE_LABELS,
        kinds=KIND_LABELS,
    )


@pages.get("/feed.atom")
@requires(Permission.PUBLIC)
def feed() -> Response:
    rows, _ = portal.search(web.db(), portal.PortalQuery(page_size=50))
    # Atom's feed-level <updated> is the newest entry's time (stable while nothing new is published).
    newest = max((a.published_at for a, _ in rows if a.published_at), default=dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    body = portal.atom(rows, request.host_url.rstrip("/"), newest.isoformat())
    return Response(body, mimetype="application/atom+xml")


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
    return render_template(
        "tenders/tender.html",
        tender=tender,
        manager=manager,
        staff=staff,
        interest=interest,
        documents=documents,
        announcements=visible_announcements(tender),
        questions=docs.questions_for(db, tender, user),
        pending=pending,
        procedure=procs.get_procedure(db, tender.procedure_code),
        rooms=ceremony_rooms(db, tender),
        publicity=publicised_evaluations(db, tender),
        opened=tender.deadline_passed(clock.now()),
        commitment=_deadline_commitment(db, tender),
        error=error,
        now=clock.now(),
        can_download=manager or interest is not None or web.has_permission("tender:tender:read"),
    ), status


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
    return reason


def _deadline(name: str) -> dt.datetime:
    raw = request.form.get(name, "")
    try:
        return dt.datetime.fromisoformat(raw).replace(tzinfo=clock.SHANGHAI).astimezone(dt.UTC)
    except ValueError:
        raise InvalidInput("请填写截止时间", fields={name: "格式不正确"}) from None


# ---------------------------------------------------------------- tenderee / agency
@pages.get("/my/tenders")
@requires(Permission.TENDER_MANAGE)
def my_tenders() -> str:
    rows = ops.managed_tenders(web.db(), web.require_user())
    return render_template("tenders/mine.html", tenders=rows)


@pages.get("/tenders/new")
@requires(Permission.TENDER_MANAGE)
def new_tender() -> ResponseReturnValue:
    later = clock.local(clock.now() + dt.timedelta(days=25)).replace(hour=9, minute=30)
    return _edit_form(
        {
            "bid_deadline": later.strftime("%Y-%m-%dT%H:%M"),
            "region": "350100",
            "template": "construction",
            "procedure_code": "construction_open",
            "category": "construction",
            "committee_size": 5,
            "specialty_code": "A01",
            "specialty_count": 4,
            "bid_validity_days": 90,
        },
        None,
    )


@pages.post("/tenders/new")
@requires(Permission.TENDER_MANAGE)
def create_tender() -> ResponseReturnValue:
    try:
        tender = ops.create_tender(web.db(), web.require_user(), _form_to_tender(request.form))
    except DomainError as exc:
        web.db().rollback()
        return _edit_form(dict(request.form), None, exc.message, exc.fields, exc.status)
    web.commit()
    flash(f"已创建项目 {tender.code}，请上传招标文件后提交审核")
    return redirect(url_for("tenders.tender_page", code=tender.code))


@pages.get("/tenders/<code>/edit")
@requires(Permission.TENDER_MANAGE)
def edit_tender(code: str) -> ResponseReturnValue:
    tender = load(code)
    if not tender.can_manage(web.current_user()):
        raise NotFound(f"招标项目 {code} 不存在")
    return _edit_form(_form_from_tender(tender), tender)


@pages.post("/tenders/<code>/edit")
@requires(Permission.TENDER_MANAGE)
def update_tender(code: str) -> ResponseReturnValue:
    tender = load(code, for_update=True)
    try:
        ops.update_tender(web.db(), web.require_user(), tender, _form_to_tender(request.form))
    except DomainError as exc:
        web.db().rollback()
        return _edit_form(dict(request.form), load(code), exc.message, exc.fields, exc.status)
    web.commit()
    flash("已保存")
    return redirect(url_for("tenders.tender_page", code=code))


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
    return _act(code, lambda t: ops.submit_tender(web.db(), web.require_user(), t), "已提交交易中心审核")


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
        ops.draft_amendment(web.db(), web.require_user(), t, parse(AmendmentIn, data))

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
    return _act(code, lambda t: ops.terminate_tender(web.db(), web.require_user(), t, _reason()), "项目已终止")


# ---------------------------------------------------------------- staff
@pages.get("/review")
@requires(Permission.TENDER_REVIEW)
def review_page() -> str:
    db = web.db()
    tenders, anns = ops.review_queue(db)
    return render_template("tenders/review.html", tenders=tenders, anns=anns, questions=docs.unanswered(db))


@pages.post("/tenders/<code>/publish")
@requires(Permission.TENDER_REVIEW)
def publish(code: str) -> ResponseReturnValue:
    settings = services(current_app).settings
    return _act(code, lambda t: ops.publish_tender(web.db(), web.require_user(), t, settings), "招标公告已发布")


@pages.post("/tenders/<code>/return")
@requires(Permission.TENDER_REVIEW)
def return_(code: str) -> ResponseReturnValue:
    return _act(code, lambda t: ops.return_tender(web.db(), web.require_user(), t, _reason()), "已退回招标人")


@pages.post("/tenders/<code>/suspend")
@requires(Permission.TENDER_REVIEW)
def suspend(code: str) -> ResponseReturnValue:
    return _act(code, lambda t: ops.suspend_tender(web.db(), web.require_user(), t, _reason()), "项目已暂停")


@pages.post("/tenders/<code>/resume")
@requires(Permission.TENDER_REVIEW)
def resume(code: str) -> ResponseReturnValue:
    return _act(
        code, lambda t: ops.resume_tender(web.db(), web.require_user(), t, _deadline("new_deadline")), "项目已恢复"
    )


@pages.post("/tenders/<code>/announcements/<int:ann_id>/publish")
@requires(Permission.TENDER_REVIEW)
def publish_announcement(code: str, ann_id: int) -> ResponseReturnValue:
    def do(t: Tender) -> None:
        ann = web.db().get(Announcement, ann_id)
        if ann is None or ann.tender_id != t.id:
            raise NotFound("公告不存在")
        ops.publish_announcement(web.db(), web.require_user(), ann)

    return _act(code, do, "公告已发布")


@pages.post("/tenders/<code>/announcements/<int:ann_id>/return")
@requires(Permission.TENDER_REVIEW)
def return_announcement(code: str, ann_id: int) -> ResponseReturnValue:
    def do(t: Tender) -> None:
        ann = web.db().get(Announcement, ann_id)
        if ann is None or ann.tender_id != t.id:
            raise NotFound("公告不存在")
        ops.return_announcement(web.db(), web.require_user(), ann, _reason())

    return _act(code, do, "公告已退回")


@pages.get("/calendar")
@requires(Permission.CALENDAR_MANAGE)
def calendar_page() -> str:
    rows = procs.list_holidays(web.db())
    return render_template("tenders/calendar.html", rows=rows, procedures=procs.list_procedures(web.db()), error="")


@pages.post("/calendar")
@requires(Permission.CALENDAR_MANAGE)
def calendar_set() -> ResponseReturnValue:
    try:
        day = dt.date.fromisoformat(request.form.get("day", ""))
        if request.form.get("delete"):
            procs.delete_holiday(web.db(), web.require_user(), day)
        else:
            procs.set_holiday(
                web.db(), web.require_user(), day, request.form.get("is_workday") == "1", request.form.get("name", "")
            )
    except (ValueError, DomainError) as exc:
        web.db().rollback()
        message = exc.message if isinstance(exc, DomainError) else "日期格式应为 YYYY-MM-DD"
        rows = procs.list_holidays(web.db())
        return render_template(
            "tenders/calendar.html", rows=rows, procedures=procs.list_procedures(web.db()), error=message
        ), 422
    web.commit()
    flash("节假日表已更新")
    return redirect(url_for("tenders.calendar_page"))


# ---------------------------------------------------------------- bidders
@pages.post("/tenders/<code>/interest")
@requires(Permission.TENDER_PARTICIPATE)
def register(code: str) -> ResponseReturnValue:
    return _act(
        code,
        lambda t: docs.register_interest(web.db(), web.require_user(), t, kek=kek()),
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
