"""The audit trail for staff and supervisors: its events page by page, filtered and described in
words (``trading.audit.trail``), and the check of every event against the chain, the signed
checkpoints and their copies in the archive store."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from archive.transparency import LogProblem
from trading.accounts import web
from trading.accounts.form_errors import field_lines
from trading.accounts.permissions import Permission, requires
from trading.audit import trail
from trading.audit.api import log_problems
from trading.audit.labels import NAMESPACE_LABELS, namespaces
from trading.core.errors import InvalidInput

pages = Blueprint("audit", __name__, template_folder="templates")

#: page links shown on each side of the current page
WINDOW = 2


def page_numbers(page: int, pages: int, window: int = WINDOW) -> list[int | None]:
    """The page links to show: the first, the last and those within ``window`` of ``page``; None is a
    gap (…)."""
    shown = sorted({1, pages, *range(max(1, page - window), min(pages, page + window) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and out[-1] is not None and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


def _render(problems: list[LogProblem] | None = None) -> ResponseReturnValue:
    args = {k: v for k, v in request.args.items() if isinstance(v, str)}
    context: dict[str, Any] = {
        "problems": None if problems is None else [trail.problem_line(p.where, p.problem) for p in problems],
        "groups": namespaces(),
        "group_labels": NAMESPACE_LABELS,
        "page_size": trail.PAGE_SIZE,
    }
    try:
        filters = trail.read_filters(args)
        page = trail.page_number(args.get("page", ""))
    except InvalidInput as exc:
        context |= {"filters": trail.Filters(), "form": args, "error": exc.message, "lines": field_lines(exc)}
        found = trail.Found([], 0, 1, 1)
        return render_template("audit/audit.html", found=found, rows=[], links=[], **context), exc.status
    found = trail.find(web.db(), filters, page)
    who = trail.actors(web.db(), found.events)
    rows = [trail.describe(e, who) for e in found.events]
    context |= {"filters": filters, "form": args, "error": "", "lines": found.notes}
    links = page_numbers(found.page, found.pages)
    return render_template("audit/audit.html", found=found, rows=rows, links=links, **context)


@pages.get("/audit")
@requires(Permission.AUDIT_READ)
def audit_page() -> ResponseReturnValue:
    return _render()


@pages.post("/audit/verify")
@requires(Permission.AUDIT_READ)
def audit_verify_page() -> ResponseReturnValue:
    return _render(log_problems())
