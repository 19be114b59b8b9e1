"""The registration and deposit pages (竞买申请、竞买保证金).

- ``/auctions/<code>/registration`` (buyers): apply, upload the qualification documents, see the
  state and, once approved, the bidding number; report the deposit's transfer; withdraw.
- ``/auctions/<code>/registrations`` (staff and supervisors): the lot's applications with who holds
  which number; staff review them (approve, or reject with a reason), confirm deposits and record
  refunds; the refunds still due with their limit (overdue in red). Supervisors read, without forms.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from archive import clock
from trading.accounts import web
from trading.accounts.form_errors import refusal_text
from trading.accounts.models import Organisation
from trading.accounts.permissions import Permission, requires
from trading.auctions import deposits, registrations
from trading.auctions.models import Auction, DepositState, RegistrationState
from trading.auctions.registration_api import apply_from, ledger, lot, stream, upload_part
from trading.auctions.registration_schemas import ApplyIn, ReferenceIn
from trading.core.csrf import checks_own_csrf
from trading.core.errors import DomainError
from trading.core.services import object_store, services

pages = Blueprint("auction_registrations", __name__, template_folder="templates")
UPLOAD_VIEW = "trading.auctions.registration_pages.upload_page"
checks_own_csrf(pages, UPLOAD_VIEW)  # a document may be 20 MiB
#: said when the platform has no deposit account configured
DEFAULT_ACCOUNT = "按公告指定账户"


def deposit_account() -> str:
    """The account text buyers pay into (setting ``auction_deposit_account``), else the notice's."""
    return services(current_app).settings.auction_deposit_account.strip() or DEFAULT_ACCOUNT


def back_to_own(code: str) -> ResponseReturnValue:
    return redirect(url_for("auction_registrations.own_page", code=code))


def back_to_list(reg_id: int) -> ResponseReturnValue:
    reg = registrations.get_registration(web.db(), web.require_user(), reg_id)
    a = web.db().get(Auction, reg.auction_id)
    assert a is not None  # a foreign key
    return redirect(url_for("auction_registrations.list_page", code=a.code) + f"#reg-{reg.id}")


# ---------------------------------------------------------------- buyers
@pages.get("/auctions/<code>/registration")
@requires(Permission.AUCTION_BUY)
def own_page(code: str) -> str:
    db, user = web.db(), web.require_user()
    a = lot(code)
    reg = registrations.own_registration(db, a, user)
    now = clock.now()
    return render_template(
        "auctions/registration.html",
        a=a,
        reg=reg,
        docs=registrations.documents_of(db, reg) if reg else [],
        entries=ledger(reg) if reg else [],
        account=deposit_account(),
        open=not a.state.ended and now < clock.as_utc(a.registration_ends_at),
        max_mib=registrations.MAX_DOCUMENT_BYTES // (1024 * 1024),
        S=RegistrationState,
        D=DepositState,
    )


@pages.post("/auctions/<code>/registration/apply")
@requires(Permission.AUCTION_BUY)
def apply_page(code: str) -> ResponseReturnValue:
    try:
        apply_from(code, web.form_body(ApplyIn))
        web.commit()
    except DomainError as exc:
        web.db().rollback()
        flash(f"未提交：{refusal_text(exc, ApplyIn)}")
        return back_to_own(code)
    flash("竞买申请已提交，请上传申请材料并缴纳保证金")
    return back_to_own(code)


@pages.post("/auctions/<code>/registration/documents")
@requires(Permission.AUCTION_BUY)
def upload_page(code: str) -> ResponseReturnValue:
    request.max_content_length = registrations.MAX_DOCUMENT_BYTES + 64 * 1024
    try:
        validate_csrf(request.form.get("csrf_token"))
    except (ValidationError, CSRFError):
        flash("未上传：页面已过期或缺少安全令牌，请刷新后重试")
        return back_to_own(code)

    def step() -> None:
        name, src = upload_part()
        reg = registrations.require_own(web.db(), lot(code), web.require_user(), for_update=True)
        registrations.upload_document(web.db(), object_store(current_app), web.require_user(), reg, name, src)

    web.form_step(step, "材料已上传", "未上传")
    return back_to_own(code)


@pages.post("/auctions/<code>/registration/deposit")
@requires(Permission.AUCTION_BUY)
def report_page(code: str) -> ResponseReturnValue:
    def step() -> None:
        reference = web.form_body(ReferenceIn).reference
        reg = registrations.require_own(web.db(), lot(code), web.require_user())
        deposits.report_transfer(web.db(), web.require_user(), reg, reference)

    web.form_step(step, "已报告汇款，待交易中心确认到账", "未报告")
    return back_to_own(code)


@pages.post("/auctions/<code>/registration/withdraw")
@requires(Permission.AUCTION_BUY)
def withdraw_page(code: str) -> ResponseReturnValue:
    def step() -> None:
        reg = registrations.require_own(web.db(), lot(code), web.require_user())
        registrations.withdraw(web.db(), web.require_user(), reg)

    web.form_step(step, "竞买申请已撤回；已缴纳的保证金将由交易中心退还", "未撤回")
    return back_to_own(code)


@pages.get("/auction-registrations/<int:reg_id>/documents/<int:doc_id>")
@requires(Permission.AUTHENTICATED)
def document_page(reg_id: int, doc_id: int) -> ResponseReturnValue:
    user = web.require_user()
    return stream(registrations.get_registration(web.db(), user, reg_id), user, doc_id)


# ---------------------------------------------------------------- staff and supervisors
@pages.get("/auctions/<code>/registrations")
@requires(Permission.AUCTION_READ)
def list_page(code: str) -> str:
    db = web.db()
    a = lot(code)
    regs = registrations.registrations_of(db, a)
    due = deposits.refunds_due(db, a)
    return render_template(
        "auctions/registrations.html",
        a=a,
        regs=regs,
        orgs={r.id: db.get(Organisation, r.org_id) for r in regs},
        docs={r.id: registrations.documents_of(db, r) for r in regs},
        entries={r.id: ledger(r) for r in regs},
        counts=registrations.counts(db, a),
        due=due,
        manage=web.has_permission(Permission.AUCTION_MANAGE.value),
        S=RegistrationState,
        D=DepositState,
    )


@pages.post("/auction-registrations/<int:reg_id>/approve")
@requires(Permission.AUCTION_MANAGE)
def approve_page(reg_id: int) -> ResponseReturnValue:
    def step() -> None:
        user = web.require_user()
        reg = registrations.get_registration(web.db(), user, reg_id, for_update=True)
        registrations.review(web.db(), user, reg, True, request.form.get("reason", ""))

    web.form_step(step, "审核通过，已抽取竞买号牌", "未审核")
    return back_to_list(reg_id)


@pages.post("/auction-registrations/<int:reg_id>/reject")
@requires(Permission.AUCTION_MANAGE)
def reject_page(reg_id: int) -> ResponseReturnValue:
    def step() -> None:
        user = web.require_user()
        reg = registrations.get_registration(web.db(), user, reg_id, for_update=True)
        registrations.review(web.db(), user, reg, False, request.form.get("reason", ""))

    web.form_step(step, "已审核为不通过", "未审核")
    return back_to_list(reg_id)


@pages.post("/auction-registrations/<int:reg_id>/deposit/confirm")
@requires(Permission.AUCTION_MANAGE)
def confirm_page(reg_id: int) -> ResponseReturnValue:
    def step() -> None:
        reference = web.form_body(ReferenceIn).reference
        user = web.require_user()
        deposits.confirm(web.db(), user, registrations.get_registration(web.db(), user, reg_id), reference)

    web.form_step(step, "已确认保证金到账", "未确认")
    return back_to_list(reg_id)


@pages.post("/auction-registrations/<int:reg_id>/deposit/refund")
@requires(Permission.AUCTION_MANAGE)
def refund_page(reg_id: int) -> ResponseReturnValue:
    def step() -> None:
        reference = web.form_body(ReferenceIn).reference
        user = web.require_user()
        deposits.refund(web.db(), user, registrations.get_registration(web.db(), user, reg_id), reference)

    web.form_step(step, "已登记退还保证金", "未登记")
    return back_to_list(reg_id)
