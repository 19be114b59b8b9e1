"""The supervision pages: the time-limit rules and the warnings (黄灯预警、红灯追责)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from archive import clock
from trading.accounts import web
from trading.accounts.permissions import Permission, requires
from trading.supervision.api import warnings_page
from trading.supervision.models import Colour, LimitUnit
from trading.supervision.rulebook import change_rule
from trading.supervision.rules import SUBJECT_LABELS, WARNED_LABELS
from trading.supervision.schemas import RuleChangeIn
from trading.supervision.warnings import rule_histories, rule_history, warning_detail

pages = Blueprint("supervision", __name__, template_folder="templates")


@pages.get("/supervision/warnings")
@requires(Permission.SUPERVISION_READ)
def warnings_list() -> str:
    found = warnings_page()
    return render_template(
        "supervision/warnings.html", found=found, colours=list(Colour), rules=rule_histories(web.db())
    )


@pages.get("/supervision/warnings/<int:clock_id>")
@requires(Permission.SUPERVISION_READ)
def warning_page(clock_id: int) -> str:
    return render_template("supervision/warning.html", w=warning_detail(web.db(), clock_id, clock.now()))


@pages.get("/supervision/rules")
@requires(Permission.SUPERVISION_READ)
def rules_list() -> str:
    return render_template("supervision/rules.html", rules=rule_histories(web.db()), now=clock.now())


@pages.get("/supervision/rules/<code>")
@requires(Permission.SUPERVISION_READ)
def rule_page(code: str) -> str:
    return render_template(
        "supervision/rules_one.html",
        h=rule_history(web.db(), code),
        units=list(LimitUnit),
        parties=WARNED_LABELS,
        subjects=SUBJECT_LABELS,
        may_edit=web.has_permission(Permission.SUPERVISION_RULES.value),
    )


@pages.post("/supervision/rules/<code>")
@requires(Permission.SUPERVISION_RULES)
def rule_change(code: str) -> ResponseReturnValue:
    rule_history(web.db(), code)  # an unknown rule: 404

    def step() -> None:
        data = web.form_body(RuleChangeIn, lists=("warned",))
        changes = data.model_dump(exclude={"reason"}, exclude_none=True)
        change_rule(web.db(), web.require_user(), code, changes, data.reason)

    web.form_step(step, "已保存为新版本，自现在起对新开始的计时生效", "未保存")
    return redirect(url_for("supervision.rule_page", code=code))
