"""The expert's declaration form (回避申报) as rows a person fills in: each row a kind (a former
employer, a relative, a directorship, a shareholding), a unit's credit code and a period.

The form and the API save the same ``DeclarationIn``; each row is checked by the API's own row
schema (``Period``, ``Relation``), so the form refuses exactly what the API refuses, but it says so
per row in Chinese and gives every typed value back. Rows are added and removed by the form's own
buttons (no script needed): the page is drawn again from what was posted, nothing is saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from werkzeug.datastructures import MultiDict

from trading.accounts.credit_code import credit_code_problem
from trading.core.input_errors import error_message
from trading.evaluation.models import RELATION_LABELS, Expert
from trading.evaluation.schemas import CREDIT, DeclarationIn, Period, Relation

EMPLOYMENT = "employment"  # a former employer: ``Expert.history``, not a relation
#: The kinds a row may be, as the form's choice shows them.
KIND_LABELS = {EMPLOYMENT: "曾任职单位", **RELATION_LABELS}
MAX_ROWS = 150  # what ``DeclarationIn`` holds: 50 employers and 100 relations
CREDIT_CODE = re.compile(CREDIT)
FIELD_WORDS = {"credit_code": "单位统一社会信用代码", "from": "起始日期", "to": "截止日期", "kind": "类型"}


@dataclass
class Row:
    """One row as typed (strings, possibly wrong) and what is wrong with it."""

    kind: str = ""
    credit_code: str = ""
    start: str = ""
    end: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def blank(self) -> bool:
        return not (self.credit_code.strip() or self.start.strip() or self.end.strip())


@dataclass
class Form:
    """The whole form as typed: the current employer, the rows, availability, and what is wrong."""

    employer: str
    rows: list[Row]
    available: bool
    employer_error: str | None = None
    error: str | None = None

    @property
    def has_errors(self) -> bool:
        return bool(self.employer_error or self.error or any(r.errors for r in self.rows))


def of_expert(e: Expert) -> Form:
    """The form showing what ``e`` declared, and a blank row to add one."""
    rows = [Row(EMPLOYMENT, h["credit_code"], h.get("from", ""), h.get("to") or "") for h in e.history]
    rows += [Row(r["kind"], r["credit_code"], r.get("from", ""), r.get("to") or "") for r in e.relations]
    return Form(e.employer, [*rows, Row()], e.available)


def of_post(form: MultiDict[str, str]) -> Form:
    """The form as posted (rows in order; a row's fields are parallel lists)."""
    columns = (form.getlist("row_kind"), form.getlist("row_code"), form.getlist("row_from"), form.getlist("row_to"))
    rows = [Row(k.strip(), c.strip().upper(), f.strip(), t.strip()) for k, c, f, t in zip(*columns, strict=False)]
    return Form(form.get("employer", "").strip().upper(), rows[: MAX_ROWS + 1], form.get("available") == "1")


def edit(f: Form, action: str) -> Form:
    """``add``: one more blank row; ``remove-N``: row N (from 0) gone. Nothing else changes."""
    if action == "add" and len(f.rows) < MAX_ROWS:
        f.rows.append(Row())
    elif action.startswith("remove-") and action[7:].isdigit() and int(action[7:]) < len(f.rows):
        del f.rows[int(action[7:])]
        if not f.rows:
            f.rows.append(Row())
    return f


def _why(exc: ValidationError, code: str) -> list[str]:
    out = []
    for e in exc.errors():
        where = str(e["loc"][0]) if e["loc"] else ""
        if where == "credit_code":
            out.append(credit_code_problem(code) or "单位统一社会信用代码应为 18 位数字或大写字母")
        elif where in ("from", "to") and e["type"] == "value_error":  # the schema's own words: no such day, order
            out.append(f"{FIELD_WORDS[where]}{error_message(e)}")
        elif where in ("from", "to"):
            out.append(f"{FIELD_WORDS[where]}应为日期（年-月-日）")
        else:
            out.append(f"{FIELD_WORDS.get(where, '本行')}填写有误")
    return list(dict.fromkeys(out))


def check(f: Form) -> DeclarationIn | None:
    """The declaration if every row is right (blank rows are left out); otherwise None, with each
    row's problems on the row and the form's on the form."""
    history: list[Period] = []
    relations: list[Relation] = []
    if not CREDIT_CODE.fullmatch(f.employer):
        f.employer_error = credit_code_problem(f.employer) or "现任职单位统一社会信用代码应为 18 位数字或大写字母"
    for row in f.rows:
        row.errors = []
        if row.blank:
            continue
        if row.kind not in KIND_LABELS:
            row.errors.append("请选择类型")
            continue
        data: dict[str, Any] = {"credit_code": row.credit_code, "from": row.start, "to": row.end or None}
        try:
            if row.kind == EMPLOYMENT:
                history.append(Period.model_validate(data))
            else:
                relations.append(Relation.model_validate({**data, "kind": row.kind}))
        except ValidationError as exc:
            row.errors += _why(exc, row.credit_code)
            if not row.start:  # say what to do rather than that an empty date is not a date
                row.errors = ["请填写起始日期" if e.startswith("起始日期") else e for e in row.errors]
            continue
    if len(history) > 50 or len(relations) > 100:
        f.error = "最多申报 50 个曾任职单位和 100 项亲属、董事或高管、持股关系"
    if f.has_errors:
        return None
    return DeclarationIn(employer=f.employer, history=history, relations=relations, available=f.available)
