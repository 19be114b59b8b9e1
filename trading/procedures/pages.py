"""The calendar page: staff keep the holiday table (节假日表) and read each procedure's legal periods."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from trading.accounts import web
from trading.accounts.form_errors import refusal_text
from trading.accounts.permissions import Permission, requires
from trading.core.errors import DomainError
from trading.procedures import operations as procs
from trading.procedures.schemas import HolidayIn

pages = Blueprint("procedures", __name__, template_folder="templates")


@pages.get("/calendar")
@requires(Permission.CALENDAR_MANAGE)
def calendar_page() -> str:
    rows = procs.list_holidays(web.db())
    return render_template("procedures/calendar.html", rows=rows, procedures=procs.list_procedures(web.db()), error="")


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
        message = (
            refusal_text(exc, HolidayIn)
            if isinstance(exc, DomainError)
            else "日期格式不正确，应为 年-月-日，例如 2027-02-16"
        )
        rows = procs.list_holidays(web.db())
        return render_template(
            "procedures/calendar.html", rows=rows, procedures=procs.list_procedures(web.db()), error=message
        ), 422
    web.commit()
    flash("节假日表已更新")
    return redirect(url_for("procedures.calendar_page"))
