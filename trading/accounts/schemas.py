from __future__ import annotations

import datetime as dt

from pydantic import Field, field_validator

from trading.accounts.credit_code import credit_code_problem, normalise
from trading.accounts.models import OrgKind, Role
from trading.core.apispec import Reply
from trading.core.input_errors import hint
from trading.core.schemas import OneLine, Schema

USERNAME_HINT = "3–64 位小写字母、数字或 _ . -，以字母或数字开头"


class OrganisationIn(Schema):
    name: OneLine = Field(title="机构名称", min_length=2, max_length=200)
    credit_code: str = Field(title="统一社会信用代码")
    kind: OrgKind = Field(title="机构类型")
    region: str = Field(title="行政区划代码", pattern=r"^\d{6}$", json_schema_extra=hint("6 位数字，例如 350100"))

    @field_validator("credit_code")
    @classmethod
    def _code(cls, v: str) -> str:
        v = normalise(v)
        problem = credit_code_problem(v)
        if problem:
            raise ValueError(problem)
        return v


class UserIn(Schema):
    username: str = Field(title="用户名", pattern=r"^[a-z0-9][a-z0-9_.-]{2,63}$", json_schema_extra=hint(USERNAME_HINT))
    display_name: OneLine = Field(title="姓名", min_length=1, max_length=100)
    password: str = Field(title="初始密码", min_length=10, max_length=200)
    organisation_id: int | None = Field(default=None, title="所属机构")
    roles: list[Role] = Field(title="角色", min_length=1)


class LoginIn(Schema):
    username: str = Field(title="用户名", min_length=1, max_length=64)
    password: str = Field(title="密码", min_length=1, max_length=200)
    name: OneLine = Field(default="", title="令牌名称", max_length=100)


class LoginPageIn(Schema):
    """The login page's form: ``next`` is where to go afterwards (checked by web.same_site_path)."""

    username: str = Field(title="用户名", min_length=1, max_length=64)
    password: str = Field(title="密码", min_length=1, max_length=200)
    next: str = Field(default="", title="登录后前往的页面", max_length=2048)


# ---------------------------------------------------------------- answers
class OrganisationOut(Reply):
    id: int
    name: str
    credit_code: str
    kind: OrgKind
    region: str
    created_at: dt.datetime


class OrganisationsOut(Reply):
    items: list[OrganisationOut]
    page: int
    page_size: int


class UserOut(Reply):
    id: int
    username: str
    display_name: str
    organisation_id: int | None
    roles: list[Role]
    is_active: bool


class UsersOut(Reply):
    items: list[UserOut]
    page: int
    page_size: int


class TokenOut(Reply):
    token: str = Field(description="访问令牌：之后每个请求带 Authorization: Bearer <token>")
    token_type: str = Field(examples=["Bearer"])
    expires_at: dt.datetime
    user: UserOut


class OrganisationBriefOut(Reply):
    id: int
    name: str
    credit_code: str


class MeOut(UserOut):
    permissions: list[str] = Field(description="当前用户持有的权限（scope:resource:action）")
    organisation: OrganisationBriefOut | None


class PagingQuery(Schema):
    page: int = Field(default=1, ge=1, le=10_000_000, title="页码")
    page_size: int = Field(default=50, ge=1, le=200, title="每页条数")
