"""Refused input told in Chinese: fields named by the schemas' titles, pydantic's reasons translated."""

from __future__ import annotations

import html
import importlib
import re
from decimal import Decimal
from enum import StrEnum

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pydantic import BaseModel, Field, model_validator
from sqlalchemy.orm import Session

from tests.factories import csrf_from, make_user, page_login
from trading.accounts.form_errors import field_lines, refusal_text
from trading.accounts.models import Role
from trading.core.apispec import Reply
from trading.core.errors import InvalidInput
from trading.core.input_errors import MESSAGES, field_label, hint
from trading.core.schemas import Schema, parse


class Kind(StrEnum):
    GOODS = "goods"
    WORKS = "works"

    @property
    def label(self) -> str:
        return {"goods": "货物", "works": "工程"}[self.value]


class Factor(Schema):
    name: str = Field(title="因素名称", min_length=1, max_length=10)
    weight: int = Field(title="权重", ge=1, le=100)


class Lot(Schema):
    name: str = Field(title="标段名称", min_length=1, max_length=20)
    estimated_price: Decimal = Field(title="估算价", gt=0, max_digits=18, decimal_places=2)
    factors: list[Factor] = Field(title="评分因素", default_factory=list)

    @model_validator(mode="after")
    def _rule(self) -> Lot:
        if self.name == "违规":
            raise ValueError("标段名称不得为“违规”")
        return self


class Tender(Schema):
    title: str = Field(title="项目名称", min_length=4, max_length=200)
    kind: Kind = Field(title="项目类型")
    region: str = Field(title="行政区划代码", pattern=r"^\d{6}$", json_schema_extra=hint("6 位数字"))
    lots: list[Lot] = Field(title="标段", min_length=1)
    notes: list[str] = Field(default_factory=list)


def refused(data: dict[str, object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse(Tender, data)
    return caught.value


GOOD_LOT = {"name": "一标段", "estimated_price": "100.00"}


def test_a_field_is_named_along_its_path() -> None:
    assert field_label(Tender, ("lots", 0, "estimated_price")) == "第1标段 · 估算价"
    assert field_label(Tender, ("lots", 1, "factors", 2, "weight")) == "第2标段 · 第3评分因素 · 权重"
    assert field_label(Tender, ("lots",)) == "标段"
    assert field_label(Tender, ("notes", 0)) == "notes · 第1项"  # no title: the path shows, not a guess
    assert field_label(Tender, ()) == ""


def test_pydantic_reasons_in_chinese_with_their_limits() -> None:
    exc = refused(
        {
            "title": "x" * 201,
            "kind": "services",
            "region": "35010",
            "lots": [GOOD_LOT, {"name": "", "estimated_price": "abc", "factors": [{"name": "价格", "weight": 0}]}],
        }
    )
    assert exc.fields == {
        "title": "不能超过 200 个字符",
        "kind": "应为以下之一：货物、工程",
        "region": "格式不正确，应为6 位数字",
        "lots.1.name": "不能为空",
        "lots.1.estimated_price": "应为数字，例如 12800000.00",
        "lots.1.factors.0.weight": "不能小于 1",
    }
    assert exc.names["lots.1.factors.0.weight"] == "第2标段 · 第1评分因素 · 权重"
    assert field_lines(exc) == [
        "项目名称：不能超过 200 个字符",
        "项目类型：应为以下之一：货物、工程",
        "行政区划代码：格式不正确，应为6 位数字",
        "第2标段 · 标段名称：不能为空",
        "第2标段 · 估算价：应为数字，例如 12800000.00",
        "第2标段 · 第1评分因素 · 权重：不能小于 1",
    ]


def test_missing_limits_rules_and_lists() -> None:
    exc = refused({"title": "四个字的", "kind": "goods", "region": "350100", "lots": []})
    assert field_lines(exc) == ["标段：至少需要 1 项"]
    exc = refused({"kind": "goods", "lots": [{"name": "违规", "estimated_price": "0"}]})
    assert field_lines(exc) == [
        "项目名称：必填",
        "行政区划代码：必填",
        "第1标段 · 估算价：应大于 0",
    ]
    exc = refused({"title": "四个字的", "kind": "goods", "region": "350100", "lots": [{**GOOD_LOT, "name": "违规"}]})
    assert field_lines(exc) == ["第1标段：标段名称不得为“违规”"]
    exc = refused({"title": "四个字的", "kind": "goods", "region": "350100", "lots": [GOOD_LOT], "extra": 1})
    assert field_lines(exc) == ["extra：不是可填写的字段"]
    assert refusal_text(exc) == "输入有误，请检查标出的字段（extra：不是可填写的字段）"


def test_no_pydantic_english_reaches_a_person() -> None:
    # every translated reason is Chinese (numbers, examples and the placeholders aside)
    for kind, text in MESSAGES.items():
        plain = re.sub(r"\{\w+\}|\d{4}-\d\d-\d\dT[\d:+]+|\d{4}-\d\d-\d\d|[\d:.+]+|JSON", "", text)
        assert not re.search(r"[A-Za-z]", plain), kind


class Bare(BaseModel):
    amount: Decimal = Field(max_digits=5, decimal_places=2)
    when: int = 0


def test_decimal_limits_and_unknown_types() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(Bare, {"amount": "1.234", "when": "soon"})
    assert caught.value.fields == {"amount": "小数不能超过 2 位", "when": "应为整数"}
    # a field without a title keeps its path: visible, so the schema gets one
    assert caught.value.names == {"amount": "amount", "when": "when"}


def test_my_stages_schemas_title_every_field() -> None:
    """Every field a form or request names (the API's answers, ``Reply`` models, are not forms)."""
    for name in ("trading.accounts.schemas", "trading.pki.schemas"):
        module = importlib.import_module(name)
        for model in vars(module).values():
            if (
                isinstance(model, type)
                and issubclass(model, BaseModel)
                and not issubclass(model, Reply)
                and model.__module__ == name
            ):
                untitled = [f for f, info in model.model_fields.items() if not info.title]
                assert untitled == [], f"{model.__name__}: {untitled}"


# ---------------------------------------------------------------- real forms


def errors_shown(page: str) -> list[str]:
    box = re.search(r'<div class="error" role="alert">(.*?)</div>', page, re.S)
    assert box, page
    return [html.unescape(li) for li in re.findall(r"<li>(.*?)</li>", box.group(1))]


def test_organisation_form_names_its_fields(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    page_login(client, admin.username)
    token = csrf_from(client.get("/admin/organisations").get_data(as_text=True))
    bad = {"csrf_token": token, "name": "甲", "credit_code": "123", "kind": "bank", "region": "35"}
    r = client.post("/admin/organisations", data=bad)
    assert r.status_code == 422
    lines = errors_shown(r.get_data(as_text=True))
    assert lines[0] == "机构名称：至少 2 个字符"
    assert lines[1].startswith("统一社会信用代码：")
    assert lines[2].startswith("机构类型：应为以下之一：企业（投标人）、招标人")
    assert lines[3] == "行政区划代码：格式不正确，应为6 位数字，例如 350100"
    assert not any(re.search(r"[A-Za-z]{3,}", line) for line in lines), lines


def test_a_rule_refusal_after_parsing_is_named_from_the_form(client: FlaskClient, session: Session) -> None:
    admin = make_user(session, Role.ADMIN)
    taken = make_user(session, Role.BIDDER)
    page_login(client, admin.username)
    token = csrf_from(client.get("/admin/users").get_data(as_text=True))
    form = {"csrf_token": token, "username": taken.username, "display_name": "张三", "password": "x" * 12}
    r = client.post("/admin/users", data=form | {"roles": ["bidder"]})
    assert r.status_code == 409
    assert errors_shown(r.get_data(as_text=True)) == ["用户名：已存在"]
    r = client.post("/admin/users", data=form | {"username": "Bad Name", "password": "short"})
    assert errors_shown(r.get_data(as_text=True)) == [
        "用户名：格式不正确，应为3–64 位小写字母、数字或 _ . -，以字母或数字开头",
        "初始密码：至少 10 个字符",
        "角色：至少需要 1 项",
    ]


def test_revocation_form_names_its_fields(client: FlaskClient, session: Session) -> None:
    staff = make_user(session, Role.STAFF)
    page_login(client, staff.username)
    token = csrf_from(client.get("/certificates/revoked").get_data(as_text=True))
    r = client.post("/certificates/revoked", data={"csrf_token": token, "certificate_pem": "x" * 60, "reason": "丢"})
    assert r.status_code == 422
    assert errors_shown(r.get_data(as_text=True)) == ["吊销原因：至少 2 个字符"]
    r = client.post("/certificates/revoked", data={"csrf_token": token, "certificate_pem": "x" * 60, "reason": "丢失"})
    assert errors_shown(r.get_data(as_text=True)) == ["证书：不是有效的证书文本"]


def test_the_error_page_and_the_api_name_fields(app: Flask, client: FlaskClient, session: Session) -> None:
    exc = refused(
        {"title": "四个字的", "kind": "goods", "region": "350100", "lots": [{"name": "一", "estimated_price": 0}]}
    )
    with app.test_request_context("/somewhere", headers={"Accept": "text/html"}):
        page = app.make_response(app.handle_user_exception(exc)).get_data(as_text=True)
    assert "第1标段 · 估算价：应大于 0" in html.unescape(page)
    assert "lots.0" not in page
    admin = make_user(session, Role.ADMIN)
    r = client.post("/api/v1/auth/token", json={"username": admin.username, "password": "x"})
    r = client.post("/api/v1/auth/token", json={"username": admin.username})
    body = r.get_json()["error"]
    assert body["fields"] == {"password": "必填"} and body["field_labels"] == {"password": "密码"}


def test_the_login_form_names_what_is_missing(client: FlaskClient) -> None:
    token = csrf_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"csrf_token": token, "username": "someone"})
    assert r.status_code == 422
    assert errors_shown(r.get_data(as_text=True)) == ["密码：必填"]
